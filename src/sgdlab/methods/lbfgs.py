"""Minibatch stochastic L-BFGS (online L-BFGS)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab._numba_cache import njit
from sgdlab.methods.base import MethodInfo, State, SteppedMethod, expected_smoothness


def two_loop(g: np.ndarray, s: list[np.ndarray], y: list[np.ndarray], rho: list[float], gamma: float) -> np.ndarray:
    """`H g` for the L-BFGS inverse-Hessian approximation `H` built from the pairs `(s_i, y_i)`, oldest
    first, with `ρ_i = 1/(s_iᵀ y_i)` and initial matrix `γ I` (Nocedal & Wright, *Numerical Optimization*,
    2nd ed., 2006, Algorithm 7.4)."""
    if s and g.dtype == np.float64 and all(v.dtype == np.float64 for v in (*s, *y)):
        # compiled: the Python loop cost ~50 % of an iteration on small problems; same operations in the same
        # order (BLAS dots, then the element-wise updates), so the result equals `python_two_loop`'s
        q = g.copy()
        _two_loop_kernel(q, np.stack(s), np.stack(y), np.asarray(rho, dtype=np.float64), float(gamma))
        return q
    # other dtypes: NumPy's rounding of `float × float32 array` (the scalar rounded to float32) is kept as is
    return python_two_loop(g, s, y, rho, gamma)


def python_two_loop(
    g: np.ndarray, s: list[np.ndarray], y: list[np.ndarray], rho: list[float], gamma: float
) -> np.ndarray:
    """Algorithm 7.4 as a plain loop over the pairs (NumPy operations): `two_loop` for any dtype, and the
    reference its compiled float64 kernel equals bit for bit."""
    q = g.copy()
    a = [0.0] * len(s)
    for i in reversed(range(len(s))):
        a[i] = rho[i] * float(s[i] @ q)
        q -= a[i] * y[i]
    q *= gamma
    for i in range(len(s)):
        b = rho[i] * float(y[i] @ q)
        q += (a[i] - b) * s[i]
    return q


@njit(nogil=True)
def _two_loop_kernel(q, S, Y, rho, gamma):
    """`two_loop` on float64 pairs stacked oldest first (rows of `S`, `Y`), in place on `q`."""
    m, d = S.shape
    a = np.empty(m)
    for i in range(m - 1, -1, -1):
        a[i] = rho[i] * np.dot(S[i], q)
        ai = a[i]
        for j in range(d):
            q[j] -= ai * Y[i, j]
    for j in range(d):
        q[j] *= gamma
    for i in range(m):
        c = a[i] - rho[i] * np.dot(Y[i], q)
        for j in range(d):
            q[j] += c * S[i, j]


@dataclasses.dataclass(kw_only=True)
class SLBFGS(SteppedMethod):
    """Minibatch stochastic L-BFGS: `x ← x − α_k H_k ∇f_S(x)`, curvature pairs from the same minibatch.

    Online L-BFGS (Schraudolph, Yu & Günter, *A stochastic quasi-Newton method for online convex
    optimization*, AISTATS 2007; see also Byrd, Hansen, Nocedal & Singer, *A stochastic quasi-Newton method for
    large-scale optimization*, SIAM J. Optim. 26, 2016). With the minibatch `S_k`:

    `g = ∇f_S(x);   x⁺ = x − α_k H_k g;   s = x⁺ − x;   y = ∇f_S(x⁺) − g + λ s`

    where `H_k g` is the two-loop product of L-BFGS over the last `memory` pairs `(s, y)` with initial
    matrix `γ I`, `γ = sᵀy / yᵀy` of the newest pair. Both gradients use the *same* minibatch, so `y`
    measures the curvature of `f_S` along `s` without sampling noise; the iteration costs `2b`
    component gradients. A pair is kept only if `sᵀy > ε ‖s‖²` (the curvature condition, which keeps `H`
    positive definite). Before the first pair `H = I / L_b` (minibatch expected smoothness, see
    `expected_smoothness`), so the first step is an SGD step.

    `damping` (λ ≥ 0) makes `H` approximate `(∇²f_S + λI)⁻¹` and bounds its eigenvalues by about `1/λ`
    per pair — Schraudolph et al.'s remedy for minibatch curvature that misleads. A small minibatch's curvature
    along `s` can be far below the mean's (one sample: down to the regulariser's), and undamped pairs then
    produce huge steps. Default: `λ = (n − b)/(b(n − 1))·(L_max − L)`, by how much the expected smoothness
    of a minibatch of `b` distinct samples exceeds `L` (Gower et al., ICML 2019, "b-nice sampling") — the
    scale of the minibatch curvature's fluctuations: `L_max − L` for one sample, 0 for the full batch
    (plain L-BFGS). A heuristic; `damping=0` gives the undamped online L-BFGS.

    Default `lr = 0.5`: `α = 1` is the quasi-Newton (unit) step, and half of it makes the first step
    SGD's default `1/(2 L_b)`. `α_k = lr · schedule(k)` as for SGD. With gradient noise a constant step
    stalls at a noise floor, and a decreasing one gives SGD's rates: the preconditioner changes constants,
    not rates.

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        memory: How many curvature pairs `(s, y)` the two-loop product uses (a positive integer).
        eps: The curvature condition's threshold `ε ≥ 0`.
        damping: `λ ≥ 0` (`None`: the default above).

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), or an
            unknown schedule.
        TypeError: `step(x, g, state)` called directly: the method needs the problem's oracle (`sgdlab.run`).

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.SLBFGS(), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.004...
    """

    info: ClassVar[MethodInfo] = MethodInfo(elementwise=False)
    lr: float | None = 0.5
    memory: int = 10
    eps: float = 1e-8
    damping: float | None = None

    def _validate(self) -> None:
        super()._validate()
        self.memory = _checks.positive_int("memory", self.memory)
        self.eps = _checks.nonnegative("eps", self.eps)
        if self.damping is not None:
            self.damping = _checks.nonnegative("damping", self.damping)

    def resolve(self, problem, batch_size=1, total_iters=None):
        resolved = super().resolve(problem, batch_size, total_iters)
        # the first step's H = I/L_b must exist (the iterations check it again for their own batch size)
        self._initial_scale(problem, batch_size)
        if self.damping is not None:
            return resolved
        n, b = problem.n, min(max(int(batch_size), 1), problem.n)
        excess = (n - b) / (b * (n - 1)) * max(problem.L_max - problem.L, 0.0) if n > 1 else 0.0
        return dataclasses.replace(resolved, damping=excess)

    def init(self, x: np.ndarray) -> State:
        # pairs oldest first; gamma is set from the problem at the first iteration (before any pair)
        return {**super().init(x), "s": [], "y": [], "rho": [], "gamma": None}

    def _initial_scale(self, problem, batch_size: int) -> float:
        """`1/L_b`, the scale of `H` before the first curvature pair."""
        L_b = expected_smoothness(problem, batch_size)
        return self._inverse("inverse-Hessian scale 1/L_b", "L_b", L_b, remedy="SLBFGS cannot start on this problem")

    def direction(self, g: np.ndarray, state: State) -> np.ndarray:
        """`H_k g`: the two-loop product with the stored pairs."""
        return two_loop(g, state["s"], state["y"], state["rho"], state["gamma"])

    def iterate(self, problem, x, idx, state) -> int:
        if self.damping is None:
            raise ValueError("SLBFGS.damping is unset: pass damping=, or run through sgdlab.run")
        if state["gamma"] is None:
            state["gamma"] = self._initial_scale(problem, len(idx))
        alpha = self._advance(state)
        g = problem.grad_batch(x, idx).astype(x.dtype, copy=False)
        previous = x.copy()
        x -= alpha * self.direction(g, state)
        s = x - previous  # the step actually taken, after rounding
        y = problem.grad_batch(x, idx).astype(x.dtype, copy=False) - g
        if self.damping:
            y += self.damping * s
        sy, ss = float(s @ y), float(s @ s)
        if sy > self.eps * ss:  # also false for NaN
            state["s"].append(s)
            state["y"].append(y)
            state["rho"].append(1.0 / sy)
            state["gamma"] = sy / float(y @ y)
            if len(state["s"]) > self.memory:
                del state["s"][0], state["y"][0], state["rho"][0]
        return 2 * len(idx)
