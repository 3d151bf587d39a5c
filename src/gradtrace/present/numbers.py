"""Numbers as strict JSON allows them: a float, or ``null`` where it is infinite or NaN.

Every JSON shape (``json.py``: the CLI's ``--json`` and the explorer's API) writes its numbers
through ``finite``, so a non-finite value is ``null`` everywhere, never ``Infinity`` or ``NaN``
(which strict JSON parsers refuse). What a ``null`` means is said beside each shape.
"""

from __future__ import annotations

import math
from typing import SupportsFloat

__all__ = ["finite"]


def finite(v: SupportsFloat, digits: int | None = None) -> float | None:
    """``v`` as a JSON number: ``None`` when not finite; else ``float(v)``, rounded to ``digits``
    significant digits when given (``finite(1234.5678, 3) == 1230.0``)."""
    v = float(v)
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits - 1}e}") if digits else v
