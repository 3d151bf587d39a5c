"""The explorer: a local web page over the engine (``gradtrace serve``, the ``web`` extra).

``app.py`` wires the application (limits, errors, the page and ``static/``: ``index.html``,
``app.js`` the explorer, ``lesson.js`` the guided lesson over it, ``app.css``; no file is
fetched from the network), ``routes.py`` holds the JSON API's routes, ``schemas.py`` their
request and answer models, ``cost.py`` the cost model, ``jobs.py`` the worker processes and
``server.py`` the server. ``api.py`` is the old path of ``create_app``.
"""
