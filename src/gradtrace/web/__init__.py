"""The explorer: a local web page over the engine (``gradtrace serve``, the ``web`` extra).

``api.py`` holds the JSON API and serves ``static/`` (the page, ``app.js`` the explorer,
``lesson.js`` the guided lesson over it, ``app.css``; no file is fetched from the network).
"""
