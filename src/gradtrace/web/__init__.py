"""The explorer: a local web page over the engine (``gradtrace serve``, the ``web`` extra).

``api.py`` holds the JSON API and serves ``static/`` (the page, its script and style; no file is
fetched from the network).
"""
