"""The log-magnitude mode: the backward recursion of ``backprop`` on ``(log|v|, sign v)`` pairs.

Products become sums of logs and sums use a stable log-add, so a depth-10,000 sigmoid chain gives
finite ``log10|dL/dw_k|`` where float64 underflows to 0. The recursion is ``backprop``'s, step
for step (see that module's docstring, which is canonical); ``tests/test_logmode.py`` holds this
copy to it wherever float64 is exact, and to mpmath at depth 2,000.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtrace.core.activations import log_sigmoid
from gradtrace.core.backprop import Trace, backprop, broadcast_inputs
from gradtrace.core.losses import bce_from_logit, bce_grad_logit
from gradtrace.core.network import ChainSpec, Network

__all__ = ["LogTrace", "backprop_log"]

Array = np.ndarray
_LN10 = float(np.log(10.0))


def _log_abs(v: Array) -> tuple[Array, Array]:
    with np.errstate(divide="ignore"):
        return np.log(np.abs(v)), np.sign(v)


def _log_add(la: Array, sa: Array, lb: Array, sb: Array) -> tuple[Array, Array]:
    """``(log|u + v|, sign(u + v))`` from ``u = sa e^la``, ``v = sb e^lb`` (zero: ``-inf, 0``)."""
    la = np.where(sa == 0, -np.inf, la)
    lb = np.where(sb == 0, -np.inf, lb)
    a_big = la >= lb
    hi, lo = np.where(a_big, la, lb), np.where(a_big, lb, la)
    s_hi, s_lo = np.where(a_big, sa, sb), np.where(a_big, sb, sa)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(np.isneginf(hi), 0.0, np.exp(lo - hi))  # in [0, 1]
        mag = np.where(s_hi * s_lo >= 0, np.log1p(r), np.log1p(-r))
    out = hi + mag
    sign = np.where(np.isneginf(out), 0.0, s_hi)
    return np.where(sign == 0, -np.inf, out), sign


@dataclass(frozen=True, eq=False)
class LogTrace:
    """Gradient magnitudes in log10 with signs, exact where float64 under- or overflows.

    **Fields** (``(..., L)`` unless noted):
    - ``spec``: the architecture.
    - ``log10_abs_z``, ``sign_z``; ``log10_abs_a``, ``sign_a``: forward values.
    - ``log10_abs_activation_derivative``: ``log10|phi_k'(z_k)|``.
    - ``log10_abs_delta``, ``sign_delta``: ``dL/dz_k``.
    - ``log10_abs_grad_weight``, ``sign_grad_weight``: ``dL/dw_k`` (``-inf``, sign 0 for an exact 0).
    - ``loss``: float64 ``(...)`` (``inf`` flagged in ``warnings`` when beyond range).
    - ``float64_underflow``: ``dL/dw_k`` is 0 in plain float64 but not truly zero.
    - ``float64_overflow``: ``dL/dw_k`` is inf/NaN in plain float64 but finite in log space.
    - ``float64_inaccurate``: plain float64 gives a finite, nonzero ``dL/dw_k`` that is off by more
      than 1e-9 relative (an intermediate underflowed: a subnormal lost digits, or a value that
      should be tiny became 0 and switched a relu branch).
    - ``warnings``: messages from the plain float64 pass.
    """

    spec: ChainSpec
    log10_abs_z: Array
    sign_z: Array
    log10_abs_a: Array
    sign_a: Array
    log10_abs_activation_derivative: Array
    log10_abs_delta: Array
    sign_delta: Array
    log10_abs_grad_weight: Array
    sign_grad_weight: Array
    loss: Array
    float64_underflow: Array
    float64_overflow: Array
    float64_inaccurate: Array
    warnings: tuple[str, ...]

    @property
    def log10_abs_grad_bias(self) -> Array:
        """``log10|dL/db_k|`` (equal to ``log10|delta_k|``)."""
        return self.log10_abs_delta


def backprop_log(
    net: Network, x: Array | float, target: Array | float, *, plain: Trace | None = None
) -> LogTrace:
    """The backward pass in log-magnitude arithmetic: ``log|.|`` and sign per quantity.

    Products become sums of logs (``log|delta_k| = log|delta_(k+1)| + log|w_(k+1)| +
    log|phi_k'(z_k)|``), and sums (biases, the l2 residual) use a stable log-add, so no step
    underflows or overflows. Each activation supplies its own log-space rule
    (``Activation.log_forward``).

    ``plain``: the float64 ``backprop(net, x, target)`` if the caller has it already (it is
    computed here otherwise); the LogTrace compares itself with it.

    **Returns:** a ``LogTrace``, which also records where plain float64 (``backprop``) gave 0
    or inf instead of the true value.
    """
    spec, L = net.spec, net.depth
    w, b, x, t = broadcast_inputs(net, x, target)
    shape = x.shape
    lw, sw = _log_abs(w)
    lz = np.empty((*shape, L))
    sz = np.empty((*shape, L))
    la = np.empty((*shape, L))
    sa = np.empty((*shape, L))
    ld1 = np.empty((*shape, L))

    # 1. forward in log space
    la_prev, sa_prev = _log_abs(x)
    for k in range(L):
        lzk, szk = lw[..., k] + la_prev, sw[..., k] * sa_prev
        if b is not None:
            lb, sb = _log_abs(b[..., k])
            lzk, szk = _log_add(lzk, szk, lb, sb)
        lzk = np.where(szk == 0, -np.inf, lzk)
        lz[..., k], sz[..., k] = lzk, szk
        lak, sak, ld1[..., k] = spec.phi(k + 1).log_forward(lzk, szk)
        if spec.residual and k < L - 1:  # a_k = a_(k-1) + phi(z_k)
            lak, sak = _log_add(la_prev, sa_prev, lak, sak)
        la[..., k], sa[..., k] = lak, sak
        la_prev, sa_prev = la[..., k], sa[..., k]

    # 2. output: delta_L in log space
    with np.errstate(over="ignore"):
        z_out = sz[..., -1] * np.exp(lz[..., -1])  # +-inf only beyond float64's range
    if spec.fused_bce:
        loss = bce_from_logit(z_out, t)
        l_plain, s_plain = _log_abs(bce_grad_logit(z_out, t))
        # s(z) - 1 = -s(-z) and s(z) - 0 = s(z): exact logs in the saturated tails
        l_delta_out = np.where(
            t == 1, log_sigmoid(-z_out), np.where(t == 0, log_sigmoid(z_out), l_plain)
        )
        s_delta_out = np.where(t == 1, -1.0, np.where(t == 0, 1.0, s_plain))
    else:  # residual r = y - y_hat with y = a_L in log space
        lt, st = _log_abs(t)
        l_res, s_res = _log_add(la[..., -1], sa[..., -1], lt, -st)
        with np.errstate(over="ignore"):
            if spec.loss == "huber":  # dL/dy = clip(r, -1, 1); L = r^2/2 or |r| - 1/2
                l_dldy = np.minimum(l_res, 0.0)
                r_abs = np.exp(l_res)
                loss = np.where(l_res <= 0.0, 0.5 * r_abs * r_abs, r_abs - 0.5)
            else:  # l2: dL/dy = 2 r, L = r^2
                l_dldy = np.log(2.0) + l_res
                loss = np.exp(2.0 * l_res)
        l_delta_out = l_dldy + ld1[..., -1]
        s_delta_out = s_res * np.where(np.isneginf(ld1[..., -1]), 0.0, 1.0)

    # 3. backward: log|delta_k| = log|delta_(k+1)| + log|w_(k+1)| + log|phi_k'(z_k)|
    ld = np.empty((*shape, L))
    sd = np.empty((*shape, L))
    ld[..., -1], sd[..., -1] = l_delta_out, s_delta_out
    l_dlda = s_dlda = ld[..., -1]  # log|dL/da_k| and its sign; set in the loop before first use
    for k in range(L - 2, -1, -1):
        l_back, s_back = ld[..., k + 1] + lw[..., k + 1], sd[..., k + 1] * sw[..., k + 1]
        if spec.residual and k < L - 2:  # g_k = g_(k+1) + delta_(k+1) w_(k+1)
            l_back, s_back = _log_add(l_dlda, s_dlda, l_back, s_back)
        l_dlda, s_dlda = l_back, s_back
        ld[..., k] = l_dlda + ld1[..., k]
        sd[..., k] = s_dlda * np.where(np.isneginf(ld1[..., k]), 0.0, 1.0)

    # 4. dL/dw_k = delta_k a_(k-1)
    lx, sx = _log_abs(x)
    l_in = np.concatenate([lx[..., None], la[..., :-1]], axis=-1)
    s_in = np.concatenate([sx[..., None], sa[..., :-1]], axis=-1)
    with np.errstate(invalid="ignore"):
        lg = ld + l_in  # -inf + inf cannot occur: both are finite or -inf
    sg = sd * s_in
    ld = np.where(sd == 0, -np.inf, ld)
    lg = np.where(sg == 0, -np.inf, lg)

    # 5. where plain float64 lost the value
    plain_trace = backprop(net, x, t) if plain is None else plain
    g = plain_trace.grad_weight
    finite_log = np.isfinite(lg)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # |log(g_plain) - log(g_exact)| > 1e-9 means a relative error above 1e-9
        off = (np.abs(np.log(np.abs(g)) - lg) > 1e-9) | (np.sign(g) != sg)
    plain_ok = np.isfinite(g) & (g != 0)
    return LogTrace(
        spec=spec,
        log10_abs_z=lz / _LN10,
        sign_z=sz,
        log10_abs_a=la / _LN10,
        sign_a=sa,
        log10_abs_activation_derivative=ld1 / _LN10,
        log10_abs_delta=ld / _LN10,
        sign_delta=sd,
        log10_abs_grad_weight=lg / _LN10,
        sign_grad_weight=sg,
        loss=np.asarray(loss),
        float64_underflow=(g == 0) & finite_log,
        float64_overflow=~np.isfinite(g) & finite_log,
        float64_inaccurate=plain_ok & off,
        warnings=plain_trace.warnings,
    )
