"""Certified optima: closed form or L-BFGS, polished by Newton-CG, checked, and cached on disk.

A point is *certified* when `‖∇f(x)‖ ≤ 1e-10 · max(1, ‖∇f(x0)‖)`. Results are stored under
`$SGDLAB_CACHE_DIR` (default `~/.cache/sgdlab`) keyed by a hash of the problem's class, parameters
and data, and the certificate is checked again on every load, so a stale, corrupt, truncated or foreign file
is recomputed and rewritten; a directory, FIFO or other special file in an entry's place is neither read nor
replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Certifiable(Protocol):
    """What certifying an optimum reads of a problem (`sgdlab.problems.base.Problem` has it all; a protocol, so
    that this module, which the base class uses, does not import it back)."""

    n: int
    dim: int
    params: dict[str, Any]

    def loss(self, x: np.ndarray) -> float: ...
    def grad(self, x: np.ndarray) -> np.ndarray: ...
    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray: ...
    def initial_point(self) -> np.ndarray: ...
    def fingerprint(self) -> str: ...
    def check_optimum(self, x: np.ndarray) -> None: ...
    def _closed_form_optimum(self) -> np.ndarray | None: ...


RELATIVE_TOL = 1e-10
_CACHE_VERSION = 1


class CertificationError(RuntimeError):
    """Raised by `x_star` (and what needs it) when no point with a tiny enough gradient can be found, or when
    the point found cannot be a minimiser (e.g. separable data without L2: no finite minimiser exists).

    Examples:
        >>> import numpy as np
        >>> import sgdlab as sl
        >>> separable = sl.data.Dataset(np.array([[1.0], [2.0], [-1.0]]), np.array([1, 1, -1]))
        >>> sl.problems.LogisticRegression(separable).x_star
        Traceback (most recent call last):
        ...
        sgdlab.problems.optimum.CertificationError: LogisticRegression(data): ... no finite minimiser; add l2 > 0
    """


def cache_dir() -> Path:
    return Path(os.environ.get("SGDLAB_CACHE_DIR") or Path.home() / ".cache" / "sgdlab") / "optima"


def _cache_key(problem: Certifiable) -> str:
    spec = {
        "version": _CACHE_VERSION,
        "class": f"{type(problem).__module__}.{type(problem).__qualname__}",
        "params": problem.params(),
        "data": problem.fingerprint(),
        "dim": problem.dim,
        "n": problem.n,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=repr).encode()).hexdigest()[:32]


def tolerance(problem: Certifiable) -> float:
    g0 = problem.grad(problem.initial_point().astype(np.float64))
    return RELATIVE_TOL * max(1.0, float(np.linalg.norm(g0)))


def _grad_norm(problem: Certifiable, x: np.ndarray) -> float:
    return float(np.linalg.norm(problem.grad(x)))


def _lbfgs(problem: Certifiable, x: np.ndarray, tol: float) -> np.ndarray:
    import scipy.optimize  # here, not at import: it is a third of `import sgdlab`'s time, and most runs hit the cache

    def fun(z):
        return problem.loss(z), np.asarray(problem.grad(z), dtype=np.float64)

    res = scipy.optimize.minimize(
        fun, x, jac=True, method="L-BFGS-B", options={"maxiter": 20_000, "gtol": tol, "ftol": 0.0}
    )
    return res.x


def _newton_polish(problem: Certifiable, x: np.ndarray, tol: float, max_iter: int = 60) -> np.ndarray:
    """Newton-CG steps; backtracking on `f` while it can tell, then on `‖∇f‖` near the optimum."""
    import scipy.sparse.linalg as spla

    op_shape = (problem.dim, problem.dim)
    for _ in range(max_iter):
        g = problem.grad(x)
        gnorm = float(np.linalg.norm(g))
        if gnorm <= tol:
            break
        H = spla.LinearOperator(op_shape, matvec=lambda v, x=x: problem.hvp(x, v), dtype=np.float64)
        step, _info = spla.cg(H, -g, rtol=min(1e-3, gnorm), maxiter=10 * problem.dim + 100)
        if float(g @ step) >= 0:  # not a descent direction (indefinite Hessian): use the gradient
            step = -g
        f0, t = problem.loss(x), 1.0
        for _ in range(40):
            trial = x + t * step
            if problem.loss(trial) <= f0 + 1e-4 * t * float(g @ step) or _grad_norm(problem, trial) < gnorm:
                break
            t *= 0.5
        else:
            break
        x = trial
    return x


def _solve(problem: Certifiable) -> np.ndarray:
    tol = tolerance(problem)
    x = problem._closed_form_optimum()
    if x is None:
        x = _lbfgs(problem, problem.initial_point().astype(np.float64), tol)
    x = np.asarray(x, dtype=np.float64)
    if _grad_norm(problem, x) > tol:
        x = _newton_polish(problem, x, tol)
    gnorm = _grad_norm(problem, x)
    if not np.isfinite(gnorm) or gnorm > tol:
        raise CertificationError(
            f"could not certify an optimum of {problem!r}: ‖∇f‖ = {gnorm:.3e} > {tol:.3e}. "
            "The problem may have no finite minimiser (e.g. separable data without L2); add l2 > 0."
        )
    problem.check_optimum(x)
    return x


def _cached(path: Path, problem: Certifiable, tol: float) -> np.ndarray | None:
    """The cached `x_star` if `path` is a regular file holding a certified one of the right shape, else
    `None`: any unreadable, truncated, foreign or stale entry only means recomputing."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the open; a directory cannot be read
            return None
        with np.load(path, allow_pickle=False) as stored:
            if stored.zip.getinfo("x_star.npy").file_size > 8 * problem.dim + 4096:  # no huge arrays
                return None
            x = stored["x_star"]
    except Exception:  # a truncated zip, garbage, a bare .npy, a missing key: each only means recomputing
        return None
    if x.shape != (problem.dim,) or x.dtype != np.float64 or not np.isfinite(x).all():
        return None
    return x if _grad_norm(problem, x) <= tol else None


def _store(path: Path, x: np.ndarray, f: float) -> None:
    """Write the entry atomically (concurrent readers never see half a file); a read-only cache, or a special
    file in the entry's place (left as it is), only costs recomputation."""
    try:
        if path.exists() and not path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
            try:
                np.savez(tmp, x_star=x, f_star=f)
            except BaseException:
                tmp.close()
                os.unlink(tmp.name)
                raise
        os.replace(tmp.name, path)
    except OSError:
        pass


def certified_optimum(problem: Certifiable) -> tuple[np.ndarray, float]:
    """`(x_star, f_star)` for `problem`, from the disk cache when a valid entry exists."""
    path = cache_dir() / f"{_cache_key(problem)}.npz"
    tol = tolerance(problem)
    x = _cached(path, problem, tol)
    if x is not None:
        return x, problem.loss(x)
    x = _solve(problem)
    f = problem.loss(x)
    _store(path, x, f)
    return x, f
