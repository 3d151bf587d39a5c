"""gradtrace's version as installed (``importlib.metadata``), without importing the package root
(which registers presentation hooks: the sweep layer sits below presentation)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["gradtrace_version"]


def gradtrace_version() -> str:
    """The installed distribution's version, or ``"unknown"`` when it is not installed."""
    try:
        return metadata.version("gradtrace")
    except metadata.PackageNotFoundError:
        return "unknown"
