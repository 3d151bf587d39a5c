"""Presentation: documents (``blocks.py``; built by ``trace``, ``exercise``, ``lab``, ``report``)
laid out as text, Markdown, LaTeX and HTML; JSON; notebook display (``notebook.py``).

Nothing here computes; every number comes from the data objects of the layers below.
"""
