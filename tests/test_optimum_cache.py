"""The certified-optimum disk cache: a damaged, foreign or special file in an entry's place is never an error
and never a hang. A regular file that does not hold a certified optimum is recomputed and rewritten; a
directory or FIFO is left alone and the optimum is computed without the cache."""

from __future__ import annotations

import io
import os
import signal
import zipfile

import numpy as np
import pytest

import sgdlab as sl
from sgdlab.problems import optimum

DATA = sl.data.make_classification(n=120, dim=6, seed=31)


def problem() -> sl.problems.LogisticRegression:
    return sl.problems.LogisticRegression(DATA, l2=1e-3)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache directory, the entry's path for :func:`problem`, and the optimum a solve gives."""
    monkeypatch.setenv("SGDLAB_CACHE_DIR", str(tmp_path))
    x_star = problem().x_star
    (path,) = (tmp_path / "optima").glob("*.npz")
    return path, x_star


def solves(monkeypatch) -> dict[str, int]:
    """Count the solver's calls (a cache hit makes none)."""
    calls = {"n": 0}
    solve = optimum._solve

    def counting(p):
        calls["n"] += 1
        return solve(p)

    monkeypatch.setattr(optimum, "_solve", counting)
    return calls


def _npz(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def _valid_entry(x: np.ndarray) -> bytes:
    return _npz(x_star=x, f_star=0.0)


BAD_ENTRIES = {
    "empty": lambda x: b"",
    "garbage": lambda x: b"not a numpy file at all",
    "truncated": lambda x: _valid_entry(x)[:40],
    "truncated-late": lambda x: _valid_entry(x)[:-30],
    "bare-npy": lambda x: _npy(x),
    "pickle": lambda x: __import__("pickle").dumps({"x_star": x}),
    "missing-key": lambda x: _npz(f_star=0.0),
    "wrong-shape": lambda x: _valid_entry(np.concatenate([x, [0.0]])),
    "wrong-dtype": lambda x: _valid_entry(x.astype(np.float32)),
    "integers": lambda x: _valid_entry(np.round(x).astype(np.int64)),
    "nan": lambda x: _valid_entry(np.full_like(x, np.nan)),
    "not-optimal": lambda x: _valid_entry(x + 0.1),
    "objects": lambda x: _npz(x_star=np.array([None] * x.size, dtype=object)),
    "huge-member": lambda x: _npz(x_star=np.zeros(10**5)),
    "not-a-zip-member": lambda x: _valid_entry(x)[:-22] + b"\0" * 22,
}


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


@pytest.mark.parametrize("kind", list(BAD_ENTRIES))
def test_a_bad_entry_is_recomputed_and_rewritten(cache, monkeypatch, kind):
    path, x_star = cache
    path.write_bytes(BAD_ENTRIES[kind](x_star))
    calls = solves(monkeypatch)
    np.testing.assert_allclose(problem().x_star, x_star, atol=1e-9)
    assert calls["n"] == 1  # the entry was not used
    with np.load(path, allow_pickle=False) as stored:  # ... and was rewritten as a valid one
        np.testing.assert_array_equal(stored["x_star"], problem().x_star)
    assert calls["n"] == 1  # which later problems use


def test_a_good_entry_is_used(cache, monkeypatch):
    path, x_star = cache
    calls = solves(monkeypatch)
    np.testing.assert_array_equal(problem().x_star, x_star)
    assert calls["n"] == 0
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["f_star.npy", "x_star.npy"]


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_special_file_is_neither_read_nor_replaced(cache, monkeypatch, kind):
    path, x_star = cache
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()

    def expire(signum, frame):
        raise TimeoutError("the cache blocked on a special file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(10)
    try:
        calls = solves(monkeypatch)
        np.testing.assert_allclose(problem().x_star, x_star, atol=1e-9)
        np.testing.assert_allclose(problem().x_star, x_star, atol=1e-9)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert calls["n"] == 2  # no cache: every new problem solves again
    assert path.is_fifo() if kind == "fifo" else path.is_dir()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left behind


def test_a_read_only_cache_only_costs_recomputation(cache, monkeypatch):
    path, x_star = cache
    path.write_bytes(b"")
    os.chmod(path.parent, 0o500)
    try:
        calls = solves(monkeypatch)
        np.testing.assert_allclose(problem().x_star, x_star, atol=1e-9)
        assert calls["n"] == 1
    finally:
        os.chmod(path.parent, 0o700)
