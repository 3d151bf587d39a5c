"""The one exception type for bad user input.

``SpecError`` is a ``ValueError`` whose message is a single line naming the bad value; the CLI
prints it on stderr and exits with status 2, the Python API lets it propagate.
"""

from __future__ import annotations

__all__ = ["SpecError"]


class SpecError(ValueError):
    """A user-supplied value is invalid; the message names the value and how to fix it."""
