"""The counterexample of Reddi, Kale & Kumar (*On the convergence of Adam and beyond*, ICLR 2018) as a finite sum."""

from __future__ import annotations

from typing import Any

import numpy as np

from sgdlab import _checks
from sgdlab.problems.base import Problem


class AdamCounterexample(Problem):
    """Reddi et al.'s counterexample: `f(x) = (1/3) Σ_i c_i x + R(x)` in one variable, `c = (C, −1, −1)`, `C > 2`.

    Reddi, Kale & Kumar (2018, Theorem 1) take the linear losses `C x` once in every three steps and `−x`
    otherwise on the interval `[−1, 1]`: the average slope `(C − 2)/3` is positive, so the minimiser is the
    left end, yet Adam with `β1 = 0`, `β2 = 1/(1 + C²)` is driven to the right end — its normalised steps
    weigh the rare large gradient `C` like the frequent `−1` ones — while AMSGrad converges. The interval
    is kept by a smooth penalty `R(x) = (κ/2)·max(|x| − 1, 0)²` (`κ = penalty`) instead of a projection,
    so the problem fits the unconstrained oracle; its minimiser is `x* = −1 − (C − 2)/(3κ)`. Constants:
    `L = L_max = κ` (`R'' ≤ κ`), `mu = 0` (f is linear inside the interval).

    Args:
        C: The rare large slope (> 2).
        penalty: The penalty's curvature `κ`.
        radius: `r` widens the interval to `[−r, r]` (`x* = −r − (C − 2)/(3κ)`): far from its ends the
            gradients are constant noisy slopes, which shows how far each method's steps carry it.

    Raises:
        ValueError: `C ≤ 2`, or a setting out of its range.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.AdamCounterexample(C=3.0)
        >>> round(float(prob.x_star[0]), 6)
        -1.003333
        >>> settings = dict(lr=0.5, beta1=0.0, beta2=1 / (1 + 3.0**2), schedule="1/sqrt(k)")
        >>> adam = sl.run(prob, sl.methods.Adam(**settings), iters=10_000, seed=0)
        >>> ams = sl.run(prob, sl.methods.AMSGrad(**settings), iters=10_000, seed=0)
        >>> round(float(adam.x[0]), 2), round(float(ams.x[0]), 2)  # Adam at the worst point, AMSGrad near x*
        (1.01, -1.0)
    """

    def __init__(self, C: float = 3.0, penalty: float = 100.0, radius: float = 1.0) -> None:
        self.C = _checks.positive("C", C)
        if self.C <= 2.0:
            raise ValueError(f"C must be > 2 (the average slope (C - 2)/3 must be positive), got {C}")
        self.penalty = _checks.positive("penalty", penalty)
        self.radius = _checks.positive("radius", radius)
        super().__init__(3, 1)
        self.slopes = np.array([self.C, -1.0, -1.0])
        self.name = f"AdamCounterexample(C={self.C:g})"

    def _data_loss(self, x):
        return float(self.slopes.mean() * x[0])

    def _data_grad(self, x):
        return np.full(1, self.slopes.mean())

    def component_grads(self, x, idx):
        return self.slopes[np.asarray(idx)][:, None].astype(np.float64)

    def _data_hvp(self, x, v):
        return np.zeros_like(v)

    def loss_many(self, points):
        x = self._points(points)[:, 0]
        outside = np.maximum(np.abs(x) - self.radius, 0.0)
        return self.slopes.mean() * x + 0.5 * self.penalty * outside**2

    def reg_loss(self, x):
        outside = np.maximum(np.abs(x) - self.radius, 0.0)
        return 0.5 * self.penalty * float(outside @ outside)

    def reg_grad(self, x):
        return self.penalty * np.sign(x) * np.maximum(np.abs(x) - self.radius, 0.0)

    def reg_hvp(self, x, v):
        return self.penalty * (np.abs(x) > self.radius) * v

    def _constants(self):
        return self.penalty, 0.0, self.penalty

    def _closed_form_optimum(self):
        return np.array([-self.radius - self.slopes.mean() / self.penalty])

    def initial_point(self):
        return np.zeros(1)

    def params(self) -> dict[str, Any]:
        return {"C": self.C, "penalty": self.penalty, "radius": self.radius}
