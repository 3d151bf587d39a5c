"""The plain formula notation and its LaTeX translation (render/blocks.py)."""

from __future__ import annotations

import math

import pytest

from gradtrace.present.blocks import Math, latex_of, m, num
from gradtrace.symbolic.forms import Y_HAT


@pytest.mark.parametrize(
    ("plain", "latex"),
    [
        ("dL/dw_k = delta_k a_(k-1)", r"\frac{\partial L}{\partial w_k} = \delta_k a_{k-1}"),
        ("z1 = w1 x = 0.25 * -1.5e-05", r"z_{1} = w_{1} x = 0.25 \cdot -1.5 \times 10^{-5}"),
        (
            "(dL/da3 + delta3 * w3) * tanh'(z2)",
            r"(\frac{\partial L}{\partial a_{3}} + \delta_{3} \cdot w_{3}) \cdot \tanh'(z_{2})",
        ),
        ("y_hat / a2", r"\hat y / a_{2}"),
        ("w_j phi'(z_(j-1))", r"w_j \varphi'(z_{j-1})"),
        ("mean log10|dL/dw1|", r"\operatorname{mean} \log_{10}|\frac{\partial L}{\partial w_{1}}|"),
        ("leaky_relu'(z1)", r"\operatorname{leaky\_relu}'(z_{1})"),
        ("w1: 0.25 -> 0.3 (5%)", r"w_{1}: 0.25 \to 0.3 (5\%)"),
        ("z -> -oo", r"z \to -\infty"),
        ("x = 1, y = 2", r"x = 1,\ y = 2"),
        ("prod |w_j|/4 <= 1", r"\prod |w_j|/4 \le 1"),
    ],
)
def test_latex_of(plain: str, latex: str) -> None:
    assert latex_of(plain) == latex


def test_m_joins_plain_sympy_and_math_pieces() -> None:
    y = Y_HAT
    f = m("dL/dy = ", 2 * y, Math(" = ", r" \approx "), "1e+03")
    assert f.plain == "dL/dy = 2*y_hat = 1e+03"
    assert f.latex == r"\frac{\partial L}{\partial y} = 2 \hat{y} \approx 1 \times 10^{3}"


def test_num() -> None:
    assert num(-1.234567e-5, 3) == Math("-1.23e-05", r"-1.23 \times 10^{-5}")
    assert num(0.25) == Math("0.25", "0.25")
    assert num(math.inf).latex == r"\infty" and num(math.nan).latex == r"\mathrm{nan}"


def test_primed_names_in_prose_become_math_and_apostrophes_stay() -> None:
    from gradtrace.present.blocks import math_primes

    assert math_primes("s' is even, and s'' changes sign") == "$s'$ is even, and $s''$ changes sign"
    assert math_primes("the sigmoid's slope; don't") == "the sigmoid's slope; don't"
