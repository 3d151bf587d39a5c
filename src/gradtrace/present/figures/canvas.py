"""matplotlib (the ``plots`` extra), set to draw into files only, and the two ways to save a
figure. Every figure module imports matplotlib through here, so that a missing extra gives one
message that says what to install."""

from __future__ import annotations

from pathlib import Path

try:
    import matplotlib

    matplotlib.use("Agg")  # files only; never opens a window
    import matplotlib.pyplot as plt
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import LogLocator, NullFormatter
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise ImportError("gradtrace's figures need matplotlib: pip install 'gradtrace[plots]'") from e

__all__ = [
    "Artist",
    "Axes",
    "Figure",
    "Line2D",
    "LogLocator",
    "NullFormatter",
    "matplotlib",
    "plt",
    "save",
    "save_figure",
]


def save(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.svg``; return both paths."""
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` (its suffix picks the format: .png, .svg, .pdf)."""
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return path
