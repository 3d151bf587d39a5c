"""Types for JSON-like data: what ``json.dumps`` writes and ``json.loads`` reads.

``JSON`` is any such value; ``JSONObject`` a dict of them, the shape of every ``--json`` answer,
of a sweep cell's results and of a run's context on disk. The containers in ``JSON`` are the
read-only ``Sequence`` and ``Mapping``, so that a ``list[float]`` or a ``dict[str, str]`` is a
``JSON`` value as it is (a ``list`` is invariant in its items; a ``Sequence`` is not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

__all__ = ["JSON", "JSONObject", "JSONScalar"]

JSONScalar: TypeAlias = bool | int | float | str | None
"""A JSON leaf: null, true/false, a number or a string."""

JSON: TypeAlias = "JSONScalar | Sequence[JSON] | Mapping[str, JSON]"
"""A JSON value of any kind (tuples and lists are arrays)."""

JSONObject: TypeAlias = dict[str, JSON]
"""A JSON object, built or read as a dict."""
