"""The one exception type for bad user input.

``SpecError`` is a ``ValueError`` whose message is a single line naming the bad value. It also
carries ``field``, the name of the input it is about, spelled as the Python and HTTP APIs spell
it (``"weights"``, ``"learning_rate"``, ...). The CLI prints the message on stderr and exits with
status 2; the web API answers 422 with ``field`` in the error's ``loc``; the Python API lets it
propagate.
"""

from __future__ import annotations

__all__ = ["SpecError"]


class SpecError(ValueError):
    """A user-supplied value is invalid; the message names the value and how to fix it.

    **Arguments:**
    - ``message``: one line, naming the bad value.
    - ``field``: the input it is about (``None`` when it is about several, or none in particular).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> tuple[type[SpecError], tuple[str], dict[str, str | None]]:
        # keyword-only ``field`` is not in ``args``: pickle it as state (the web worker sends
        # SpecErrors back to the server process)
        return (type(self), (str(self),), {"field": self.field})
