"""The explorer's old module path, kept for one release: ``create_app``, ``LIMITS``,
``LOOPBACK_HOSTS`` and ``MAX_BODY_BYTES`` now live in ``gradtrace.web.app``, the routes in
``routes.py``, the request and answer models in ``schemas.py``. Import them from there."""

from __future__ import annotations

import warnings

from gradtrace.web.app import LIMITS, LOOPBACK_HOSTS, MAX_BODY_BYTES, create_app

__all__ = ["LIMITS", "LOOPBACK_HOSTS", "MAX_BODY_BYTES", "create_app"]

warnings.warn(
    "gradtrace.web.api moved to gradtrace.web.app; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
