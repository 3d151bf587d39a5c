"""Independent references for the tests; none of them calls the engine's backward pass.

* ``torch_grads``: the same chain built from torch ops in float64, differentiated by autograd.
* ``mp_loss`` / ``mp_grads``: the loss written in mpmath at high precision and differentiated
  numerically by ``mpmath.diff`` (its step is sized to the working precision, so 30+ digits
  survive); only the forward formula is shared with the engine's definition of the problem.
* ``mp_backward``: the delta recursion written out in mpmath, for chains too deep for
  ``mpmath.diff`` (depth 2,000), returning exact ``log10|dL/dw_k|``.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

LEAKY = mp.mpf("0.01")


def mp_phi(name: str, z: mp.mpf) -> mp.mpf:
    if name == "sigmoid":
        return 1 / (1 + mp.exp(-z))
    if name == "tanh":
        return mp.tanh(z)
    if name == "relu":
        return z if z > 0 else mp.mpf(0)
    if name == "leaky_relu":
        return z if z > 0 else LEAKY * z
    if name == "softsign":
        return z / (1 + abs(z))
    if name == "identity":
        return z
    raise ValueError(name)


def mp_dphi(name: str, z: mp.mpf) -> mp.mpf:
    """phi'(z) exactly (by mpmath.diff for the smooth ones)."""
    if name == "relu":
        return mp.mpf(1) if z > 0 else mp.mpf(0)
    if name == "leaky_relu":
        return mp.mpf(1) if z > 0 else LEAKY
    if name == "identity":
        return mp.mpf(1)
    return mp.diff(lambda u: mp_phi(name, u), z)


def mp_loss(
    weights,
    biases,
    x,
    t,
    activation,
    output_activation,
    loss,
    *,
    dps: int | None = 30,
    residual: bool = False,
) -> mp.mpf:
    """The loss of the chain, forward pass only, in mpmath (``dps=None``: the caller's precision,
    as inside ``mpmath.diff``, which raises the precision for its own differences)."""
    with mp.workdps(dps if dps is not None else mp.mp.dps):
        a = mp.mpf(x)
        L = len(weights)
        for k in range(L):
            z = mp.mpf(weights[k]) * a + (mp.mpf(biases[k]) if biases is not None else 0)
            phi = mp_phi(output_activation if k == L - 1 else activation, z)
            a = a + phi if residual and k < L - 1 else phi
        t = mp.mpf(t)
        if loss == "bce":
            return -(t * mp.log(a) + (1 - t) * mp.log(1 - a))
        if loss == "huber":
            r = abs(a - t)
            return r**2 / 2 if r <= 1 else r - mp.mpf(1) / 2
        return (t - a) ** 2


def _max_abs_z(weights, biases, x, activation, output_activation, residual: bool = False) -> float:
    """The largest |z_k| of the same forward pass as ``mp_loss`` (skip connections included)."""
    with mp.workdps(20):
        a, top, L = mp.mpf(x), mp.mpf(0), len(weights)
        for k in range(L):
            z = mp.mpf(weights[k]) * a + (mp.mpf(biases[k]) if biases is not None else 0)
            top = max(top, abs(z))
            phi = mp_phi(output_activation if k == L - 1 else activation, z)
            a = a + phi if residual and k < L - 1 else phi
    return float(top)


def mp_grads(
    weights,
    biases,
    x,
    t,
    activation,
    output_activation,
    loss,
    *,
    dps: int = 30,
    residual: bool = False,
):
    """dL/dw_k (and dL/db_k) by mpmath.diff of ``mp_loss``, as mpf lists.

    ``dps`` digits are kept beyond those that saturation eats: ``1 - s(z) = e^-z`` needs about
    ``z / ln 10`` more digits to be represented next to 1.
    """
    zmax = _max_abs_z(weights, biases, x, activation, output_activation, residual)
    dps = dps + int(zmax / 2.3) + 1

    def partials(params, rebuild):
        out = []
        for k in range(len(params)):

            def f(u, k=k):
                moved = list(params)
                moved[k] = u
                return rebuild(moved)

            out.append(mp.diff(f, mp.mpf(params[k])))
        return out

    with mp.workdps(dps + 10):
        gw = partials(
            weights,
            lambda w: mp_loss(
                w, biases, x, t, activation, output_activation, loss, dps=None, residual=residual
            ),
        )
        gb = None
        if biases is not None:
            gb = partials(
                biases,
                lambda b: mp_loss(
                    weights,
                    b,
                    x,
                    t,
                    activation,
                    output_activation,
                    loss,
                    dps=None,
                    residual=residual,
                ),
            )
    return gw, gb


def mp_backward_log10(weights, x, t, activation, output_activation, loss, *, dps: int = 30):
    """log10|dL/dw_k| and signs by the delta recursion in mpmath (no under/overflow in mpmath)."""
    with mp.workdps(dps):
        L = len(weights)
        names = [output_activation if k == L - 1 else activation for k in range(L)]
        a_prev, inputs, zs, a = mp.mpf(x), [], [], None
        for k in range(L):
            inputs.append(a_prev)
            z = mp.mpf(weights[k]) * a_prev
            zs.append(z)
            a = mp_phi(names[k], z)
            a_prev = a
        t = mp.mpf(t)
        if loss == "bce":
            delta = a - t
        else:
            delta = -2 * (t - a) * _dphi_exact(names[-1], zs[-1])
        out = [None] * L
        for k in range(L - 1, -1, -1):
            g = delta * inputs[k]
            out[k] = (mp.log10(abs(g)) if g != 0 else -mp.inf, int(mp.sign(g)))
            if k:
                delta = delta * mp.mpf(weights[k]) * _dphi_exact(names[k - 1], zs[k - 1])
        return out


def _dphi_exact(name: str, z: mp.mpf) -> mp.mpf:
    """Closed-form derivatives (faster than mpmath.diff at depth 2,000)."""
    if name == "sigmoid":
        s = 1 / (1 + mp.exp(-z))
        return s * (1 - s) if z < 0 else mp.exp(-z) / (1 + mp.exp(-z)) ** 2
    if name == "tanh":
        return 1 / mp.cosh(z) ** 2
    return mp_dphi(name, z)


def torch_activations() -> dict:
    """Each activation by name as a torch function (torch's own, independent of the engine's)."""
    import torch
    import torch.nn.functional as F

    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
        "softsign": F.softsign,
        "identity": lambda z: z,
    }


def torch_grads(weights, biases, x, t, activation, output_activation, loss, residual: bool = False):
    """Gradients by torch.autograd in float64; arrays ``(..., L)`` like the engine's."""
    import torch
    import torch.nn.functional as F

    acts = torch_activations()
    W = torch.tensor(np.asarray(weights, dtype=np.float64), requires_grad=True)
    B = (
        None
        if biases is None
        else torch.tensor(np.asarray(biases, dtype=np.float64), requires_grad=True)
    )
    X = torch.as_tensor(np.asarray(x, dtype=np.float64))
    T = torch.as_tensor(np.asarray(t, dtype=np.float64))
    L = W.shape[-1]
    a = X
    z = None
    for k in range(L):
        z = W[..., k] * a + (B[..., k] if B is not None else 0.0)
        phi = acts[output_activation if k == L - 1 else activation](z)
        a = a + phi if residual and k < L - 1 else phi
    if loss == "bce":
        T = T.expand_as(z)
        lo = F.binary_cross_entropy_with_logits(z, T, reduction="none")
    elif loss == "huber":
        lo = F.huber_loss(a, T.expand_as(a), reduction="none", delta=1.0)
    else:
        lo = (T - a) ** 2
    lo.sum().backward()
    gb = None if B is None else B.grad.numpy()
    return W.grad.numpy(), gb, lo.detach().numpy()
