"""What the monitor knows of the model: its user-facing names behind wrappers, its structure for
``RunContext`` (activation and normalization kinds, residual blocks, recurrent modules, tied and
frozen parameters), biases that a BatchNorm cancels, and its shape as a plain MLP.

Names: DDP and ``DataParallel`` wrap the model as ``.module``, ``torch.compile`` as
``._orig_mod``; ``unwrap`` takes the user's model out of them, and ``user_name`` drops the
components that wrappers inside the model add (``_orig_mod``, ``_fsdp_wrapped_module``,
``_checkpoint_wrapped_module``), so ``module._orig_mod.0.weight`` is recorded as ``0.weight``.
FSDP2's ``fully_shard`` keeps the names.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Iterable
from typing import TypedDict

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from gradtrace.monitor import distributed
from gradtrace.monitor.records import MlpShape

__all__ = [
    "CancelledBiasProbe",
    "adaptive",
    "is_compiled",
    "mlp_shape",
    "named_modules",
    "named_parameters",
    "own_class",
    "structure",
    "tied",
    "unwrap",
    "user_name",
]

_WRAPPER_PARTS = frozenset({"_orig_mod", "_fsdp_wrapped_module", "_checkpoint_wrapped_module"})

# activation module classes and their RunContext names
_ACTIVATION_KINDS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu",
    nn.ReLU6: "relu6",
    nn.LeakyReLU: "leaky_relu",
    nn.PReLU: "prelu",
    nn.RReLU: "rrelu",
    nn.ELU: "elu",
    nn.CELU: "celu",
    nn.SELU: "selu",
    nn.GELU: "gelu",
    nn.SiLU: "silu",
    nn.Mish: "mish",
    nn.Sigmoid: "sigmoid",
    nn.Hardsigmoid: "hardsigmoid",
    nn.Tanh: "tanh",
    nn.Hardtanh: "hardtanh",
    nn.Hardswish: "hardswish",
    nn.Softplus: "softplus",
    nn.Softsign: "softsign",
    nn.LogSigmoid: "logsigmoid",
    nn.GLU: "glu",
    nn.Threshold: "threshold",
}
# activations of other libraries by class name (Hugging Face's GELUActivation, ...), lower case
_ACTIVATION_NAMES = (("gelu", "gelu"), ("silu", "silu"), ("swish", "silu"), ("relu", "relu"))

_NORM_KINDS: tuple[tuple[type[nn.Module], str], ...] = (
    (nn.modules.batchnorm._BatchNorm, "batchnorm"),  # BatchNorm1d/2d/3d, SyncBatchNorm, lazy
    (nn.LayerNorm, "layernorm"),
    (nn.GroupNorm, "groupnorm"),
    (nn.modules.instancenorm._InstanceNorm, "instancenorm"),
    *(((nn.RMSNorm, "rmsnorm"),) if hasattr(nn, "RMSNorm") else ()),  # torch >= 2.4
)
_NORM_NAMES = (("rmsnorm", "rmsnorm"), ("layernorm", "layernorm"), ("batchnorm", "batchnorm"))

# class-name parts of known residual blocks: torchvision's BasicBlock and Bottleneck, and the
# Transformer layers (torch's and Hugging Face's ...EncoderLayer/...DecoderLayer)
_RESIDUAL_NAMES = ("residual", "basicblock", "bottleneck", "encoderlayer", "decoderlayer")

# optimizers that divide each update by a running gradient statistic (or take its sign), so the
# update's size does not follow the gradient's scale; matched on the class name, lower case
_ADAPTIVE = ("adam", "rmsprop", "adagrad", "adadelta", "adafactor", "lamb", "lion", "rprop")
_PLAIN = ("sgd", "asgd", "lbfgs")


def unwrap(model: nn.Module) -> nn.Module:
    """The user's model inside DDP / ``DataParallel`` (``.module``) and ``torch.compile``
    (``._orig_mod``) wrappers, in any nesting."""
    while True:
        if isinstance(model, nn.DataParallel | nn.parallel.DistributedDataParallel):
            model = model.module
        elif type(model).__name__ == "OptimizedModule" and isinstance(
            inner := getattr(model, "_orig_mod", None), nn.Module
        ):
            model = inner
        else:
            return model


def is_compiled(model: nn.Module) -> bool:
    """Whether ``model``, or the model inside its DDP / ``DataParallel`` wrappers, is a
    ``torch.compile`` module."""
    while isinstance(model, nn.DataParallel | nn.parallel.DistributedDataParallel):
        model = model.module
    return type(model).__name__ == "OptimizedModule"


def own_class(module: nn.Module) -> type[nn.Module]:
    """The module's class without FSDP2's wrapping: ``fully_shard`` turns a module's class
    into a subclass ``FSDP<Class>`` of ``(FSDPModule, <Class>)``."""
    cls = type(module)
    fsdp = sys.modules.get("torch.distributed.fsdp")
    marker = getattr(fsdp, "FSDPModule", None)
    if marker is not None and isinstance(module, marker):
        return next((b for b in cls.__bases__ if b is not marker), cls)
    return cls


def user_name(name: str) -> str:
    """``name`` without the components that wrappers add inside a model."""
    return ".".join(part for part in name.split(".") if part not in _WRAPPER_PARTS)


def named_parameters(root: nn.Module) -> dict[int, tuple[str, nn.Parameter]]:
    """``id(p) -> (user name, p)`` for each distinct parameter, in model order."""
    return {id(p): (user_name(n), p) for n, p in root.named_parameters()}


def named_modules(root: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(user name, module)`` for each module, in model order."""
    return [(user_name(n), m) for n, m in root.named_modules()]


def _kind_by_name(module: nn.Module, table: Iterable[tuple[str, str]]) -> str | None:
    if list(module.children()):  # only leaves: a block named "...ReLU..." is not one
        return None
    lower = type(module).__name__.lower()
    return next((kind for part, kind in table if part in lower), None)


class Structure(TypedDict):
    """What ``structure`` reads from the modules (``RunContext``'s fields of the same names)."""

    activations: tuple[str, ...]
    norms: tuple[str, ...]
    residual: bool
    recurrent: dict[str, str]
    param_dtypes: tuple[str, ...]


def structure(root: nn.Module) -> Structure:
    """The ``RunContext`` fields read from the modules: ``activations`` and ``norms`` (kinds
    present, in model order), ``residual`` (True when a module's class is a known residual
    block: ``nn.TransformerEncoderLayer`` / ``DecoderLayer``, or its name contains Residual,
    BasicBlock, Bottleneck, EncoderLayer or DecoderLayer; False otherwise, which includes
    residual blocks of other names), ``recurrent`` (the name of each ``nn.RNN``/``LSTM``/``GRU``
    module -> ``"rnn"``, ``"lstm"`` or ``"gru"``) and ``param_dtypes``."""
    acts: list[str] = []
    norms: list[str] = []
    recurrent: dict[str, str] = {}
    residual = False
    for name, m in named_modules(root):
        kind = _ACTIVATION_KINDS.get(own_class(m)) or _kind_by_name(m, _ACTIVATION_NAMES)
        if kind is None and isinstance(m, nn.TransformerEncoderLayer | nn.TransformerDecoderLayer):
            # the layer's activation is a function (F.relu by default), not a module
            f = getattr(m, "activation", None)
            kind = (
                getattr(f, "__name__", None)
                if f in (nn.functional.relu, nn.functional.gelu)
                else None
            )
        if kind is not None and kind not in acts:
            acts.append(kind)
        norm = next((k for cls, k in _NORM_KINDS if isinstance(m, cls)), None) or _kind_by_name(
            m, _NORM_NAMES
        )
        if norm is not None and norm not in norms:
            norms.append(norm)
        if isinstance(m, nn.RNNBase):
            recurrent[name] = m.mode.split("_")[0].lower()  # "RNN_TANH" -> "rnn", "LSTM" -> "lstm"
        lower = own_class(m).__name__.lower()
        residual = residual or any(part in lower for part in _RESIDUAL_NAMES)
    dtypes = dict.fromkeys(str(p.dtype).removeprefix("torch.") for p in root.parameters())
    return Structure(
        activations=tuple(acts),
        norms=tuple(norms),
        residual=residual,
        recurrent=recurrent,
        param_dtypes=tuple(dtypes),
    )


def tied(root: nn.Module) -> dict[str, tuple[str, ...]]:
    """A shared parameter's first name -> its other names (``remove_duplicate=False``)."""
    names: dict[int, list[str]] = {}
    for n, p in root.named_parameters(remove_duplicate=False):
        names.setdefault(id(p), []).append(user_name(n))
    return {ns[0]: tuple(ns[1:]) for ns in names.values() if len(ns) > 1}


def adaptive(optimizers: Iterable[torch.optim.Optimizer]) -> bool | None:
    """True when an optimizer is adaptive (Adam and its variants, RMSprop, Adagrad, Adadelta,
    Adafactor, LAMB, Lion, Rprop: the update's size does not follow the gradient's scale),
    False when all are plain (SGD, ASGD, LBFGS), None when none is attached or a class is not
    known."""
    kinds = []
    for opt in optimizers:
        lower = type(opt).__name__.lower()
        if any(a in lower for a in _ADAPTIVE):
            kinds.append(True)
        elif any(lower == p or lower.endswith(p) for p in _PLAIN):
            kinds.append(False)
        else:
            return None
    if not kinds:
        return None
    return any(kinds)


class CancelledBiasProbe:
    """Finds, by dataflow during the first training-mode forward, bias parameters whose output
    goes straight into a BatchNorm in training mode (which subtracts the batch mean per channel,
    cancelling a per-channel bias: ``Conv2d(bias=True) -> BatchNorm2d``).

    Temporary forward hooks on every module with a ``bias`` parameter map the identity of its
    output tensor to the module (through a weak reference, so that nothing is kept alive and a
    reused ``id`` cannot match); a forward pre-hook on each BatchNorm looks its input up. ``stop``
    removes the hooks; the monitor calls it at the first optimizer step (or ``record()``) that
    follows a training-mode forward, when every module has run once.
    """

    def __init__(self, root: nn.Module) -> None:
        self.found: list[str] = []  # bias names, in the order found
        self.seen_training = False
        self._outputs: dict[int, tuple[weakref.ref[torch.Tensor], str]] = {}
        self._hooks: list[RemovableHandle] = []
        params = named_parameters(root)
        for _, m in named_modules(root):
            bias = getattr(m, "bias", None)
            if isinstance(bias, nn.Parameter) and id(bias) in params:
                self._hooks.append(m.register_forward_hook(self._producer(params[id(bias)][0])))
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                self._hooks.append(m.register_forward_pre_hook(self._batchnorm))

    def _producer(self, bias_name: str) -> Callable[[nn.Module, tuple[object, ...], object], None]:
        def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
            if module.training and torch.is_grad_enabled() and isinstance(output, torch.Tensor):
                self.seen_training = True
                self._outputs[id(output)] = (weakref.ref(output), bias_name)

        return hook

    def _batchnorm(self, module: nn.Module, inputs: tuple[object, ...]) -> None:
        if not (module.training and inputs and isinstance(inputs[0], torch.Tensor)):
            return
        entry = self._outputs.get(id(inputs[0]))
        if entry is not None and entry[0]() is inputs[0] and entry[1] not in self.found:
            self.found.append(entry[1])

    def stop(self) -> None:
        """Remove the hooks and forget the outputs."""
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        self._outputs.clear()


def mlp_shape(model: nn.Module) -> MlpShape | None:
    """The model as a plain MLP for the mean-field comparison, or None when it is not one:
    its leaf modules, in registration order, must be ``Linear (act Linear)*`` with at least two
    Linear layers and one activation kind (sigmoid, tanh or relu); Flatten, Identity and Dropout
    are ignored. ``sigma_w2 = fan_in mean(W^2)`` and ``sigma_b2 = mean(b^2)``, averaged over the
    Linear layers after the first (those whose input is a hidden layer). Wrappers (DDP, compile)
    are looked through; under FSDP2 the weights are gathered (``full_tensor``, a collective: every
    rank builds its monitor)."""
    root = unwrap(model)
    passive = (nn.Flatten, nn.Identity, nn.Dropout)  # no parameters, no effect on the mean field
    kinds: dict[type[nn.Module], str] = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu"}
    leaves = [m for m in root.modules() if not list(m.children()) and not isinstance(m, passive)]
    if len(leaves) < 3 or len(leaves) % 2 == 0:
        return None
    linears = leaves[0::2]
    acts = {own_class(m) for m in leaves[1::2]}
    if not all(own_class(m) is nn.Linear for m in linears) or len(acts) != 1:
        return None
    kind = kinds.get(acts.pop())
    if kind is None:
        return None
    names = {i: n for i, (n, _) in named_parameters(root).items()}

    def full(t: torch.Tensor) -> torch.Tensor:
        t = t.detach()
        return (t.full_tensor() if distributed.is_dtensor(t) else t).to(torch.float64)  # type: ignore[attr-defined]

    sw, sb = [], []
    with torch.no_grad():
        for lin in linears[1:]:
            assert isinstance(lin, nn.Linear)
            w = full(lin.weight)
            sw.append(w.shape[1] * float(w.pow(2).mean()))
            sb.append(float(full(lin.bias).pow(2).mean()) if lin.bias is not None else 0.0)
    weights = tuple(names[id(lin.weight)] for lin in linears if isinstance(lin, nn.Linear))
    return MlpShape(kind, weights, sum(sw) / len(sw), sum(sb) / len(sb))
