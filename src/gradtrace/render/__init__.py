"""Presentation: documents (``document.py``) laid out as text, Markdown, LaTeX; JSON; HTML.

Nothing here computes; every number comes from the data objects of the layers below.
"""
