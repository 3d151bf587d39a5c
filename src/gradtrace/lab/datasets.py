"""Small real data sets shipped inside installed packages (no download).

``load_digits``: scikit-learn's handwritten digits (8x8 images, 1,797 of them, 10 classes;
Alpaydin & Kaynak 1998, UCI), the data set of the glorot2010 reproduction and of the sweeps'
``train`` cells. ``split`` cuts a data set into a training and a test part by a seeded shuffle.
"""

from __future__ import annotations

import numpy as np

from gradtrace.core.errors import SpecError

__all__ = ["DATASETS", "check_dataset", "load_dataset", "load_digits", "split"]

DATASETS = ("digits",)
"""The data sets ``load_dataset`` knows."""


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: ``x`` ``(1797, 64)`` scaled to [0, 1], labels ``(1797,)``.
    SpecError naming the extra when scikit-learn is missing."""
    try:
        from sklearn.datasets import load_digits as sk_digits
    except ImportError:
        raise SpecError(
            "the digits data set ships with scikit-learn: pip install 'gradtrace[reproduce]'",
            field="dataset",
        ) from None
    data = sk_digits()
    return np.asarray(data.data, dtype=float) / 16.0, np.asarray(data.target, dtype=int)


def check_dataset(name: str) -> str:
    """``name`` if it is one of ``DATASETS``; SpecError naming the choices otherwise."""
    if name not in DATASETS:
        raise SpecError(
            f"unknown dataset {name!r} (choose from {', '.join(DATASETS)})", field="dataset"
        )
    return name


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The data set called ``name`` (one of ``DATASETS``): inputs ``(n, d)`` and integer labels
    ``(n,)``; SpecError naming the choices otherwise."""
    check_dataset(name)
    return load_digits()


def split(
    x: np.ndarray, labels: np.ndarray, *, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, labels_train, x_test, labels_test)``: a shuffle drawn from ``rng``, the last
    ``round(test_fraction * n)`` examples held out (at least one on each side)."""
    if not 0.0 < float(test_fraction) < 1.0:
        raise SpecError(
            f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}",
            field="test_fraction",
        )
    n = len(x)
    n_test = min(n - 1, max(1, round(test_fraction * n)))
    order = rng.permutation(n)
    train, test = order[: n - n_test], order[n - n_test :]
    return x[train], labels[train], x[test], labels[test]
