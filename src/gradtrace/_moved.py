"""Old module paths from before the layered folders (0.1), kept one release as thin aliases.

``import gradtrace.network`` still works: it warns (DeprecationWarning, naming the new path) and
gives the module that now lives at ``gradtrace.core.network``, the same object, so
``isinstance`` checks and monkeypatches agree. Nothing inside gradtrace imports an old path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

__all__ = ["MOVED", "install"]

#: old dotted path -> the path where the module lives now
MOVED: dict[str, str] = {
    "gradtrace.activations": "gradtrace.core.activations",
    "gradtrace.application": "gradtrace.service.application",
    "gradtrace.backprop": "gradtrace.core.backprop",
    "gradtrace.dense": "gradtrace.core.dense",
    "gradtrace.errors": "gradtrace.core.errors",
    "gradtrace.exercise": "gradtrace.lab.exercise",
    "gradtrace.gradcheck": "gradtrace.core.gradcheck",
    "gradtrace.inits": "gradtrace.core.inits",
    "gradtrace.lab.init": "gradtrace.lab.draw",
    "gradtrace.logmode": "gradtrace.core.logmode",
    "gradtrace.losses": "gradtrace.core.losses",
    "gradtrace.network": "gradtrace.core.network",
    "gradtrace.plots": "gradtrace.present.figures",
    "gradtrace.render": "gradtrace.present",
    "gradtrace.render.blocks": "gradtrace.present.blocks",
    "gradtrace.render.exercise": "gradtrace.present.exercise_doc",
    "gradtrace.render.html": "gradtrace.present.html",
    "gradtrace.render.json": "gradtrace.present.json",
    "gradtrace.render.lab": "gradtrace.present.lab_doc",
    "gradtrace.render.latex": "gradtrace.present.latex",
    "gradtrace.render.markdown": "gradtrace.present.markdown",
    "gradtrace.render.monitor": "gradtrace.present.monitor_doc",
    "gradtrace.render.notebook": "gradtrace.present.notebook",
    "gradtrace.render.report": "gradtrace.present.report_doc",
    "gradtrace.render.reproduce": "gradtrace.present.reproduce_doc",
    "gradtrace.render.spectra": "gradtrace.present.spectra_doc",
    "gradtrace.render.sweep": "gradtrace.present.sweep_doc",
    "gradtrace.render.text": "gradtrace.present.text",
    "gradtrace.render.theory": "gradtrace.present.theory_doc",
    "gradtrace.render.trace": "gradtrace.present.trace_doc",
    "gradtrace.report": "gradtrace.present.report",
    "gradtrace.torch._activations": "gradtrace.monitor._activations",
    "gradtrace.torch._model": "gradtrace.monitor._model",
    "gradtrace.torch._stats": "gradtrace.monitor._stats",
    "gradtrace.torch._step": "gradtrace.monitor._step",
    "gradtrace.torch.advice": "gradtrace.monitor.advice",
    "gradtrace.torch.callbacks": "gradtrace.monitor.callbacks",
    "gradtrace.torch.distributed": "gradtrace.monitor.distributed",
    "gradtrace.torch.failures": "gradtrace.monitor.failures",
    "gradtrace.torch.failures.cases": "gradtrace.monitor.failures.cases",
    "gradtrace.torch.failures.harness": "gradtrace.monitor.failures.harness",
    "gradtrace.torch.failures.heldout": "gradtrace.monitor.failures.heldout",
    "gradtrace.torch.hf": "gradtrace.monitor.hf",
    "gradtrace.torch.lightning": "gradtrace.monitor.lightning",
    "gradtrace.torch.monitor": "gradtrace.monitor.recorder",
    "gradtrace.torch.records": "gradtrace.monitor.records",
    "gradtrace.torch.rules": "gradtrace.monitor.rules",
    "gradtrace.torch.tensorboard": "gradtrace.monitor.tensorboard",
    "gradtrace.torch.verdict": "gradtrace.monitor.verdict",
}


class _Alias(importlib.abc.Loader):
    """Loads an old path as the module at its new path."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        """The default placeholder; exec_module swaps in the real module."""
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Warn, then put the module at the new path where the import system looks for it."""
        warnings.warn(
            f"{module.__name__} moved to {self.new}; the old path goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        sys.modules[module.__name__] = importlib.import_module(self.new)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the old paths listed in MOVED."""

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new), is_package=False)


def install() -> None:
    """Put the finder on sys.meta_path once."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
