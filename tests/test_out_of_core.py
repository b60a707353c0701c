"""Out-of-core data: the block writer, memory-mapped datasets, agreement with in-memory runs, bad files, RSS."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sgdlab as sl
from sgdlab.data import NpyWriter, load_npy, out_of_core, write_npy

N, DIM, BLOCK = 2000, 6, 256  # eight blocks, the last one partial


def chunked(A, y, size):
    return ((A[s : s + size], y[s : s + size]) for s in range(0, len(y), size))


def on_disk(tmp_path, data, chunk=300, block_rows=BLOCK, dtype=None):
    A_path, y_path = tmp_path / "A.npy", tmp_path / "y.npy"
    write_npy(A_path, y_path, chunked(data.A, data.y, chunk), dtype=dtype)
    return load_npy(A_path, y_path, mmap=True, block_rows=block_rows)


@pytest.fixture(scope="module")
def classification():
    return sl.data.make_classification(n=N, dim=DIM, cond=20.0, seed=3)


@pytest.fixture(scope="module")
def regression():
    return sl.data.make_regression(n=N, dim=DIM, cond=20.0, seed=4)


# --- writing -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 7, 300, N])
def test_writer_round_trip(tmp_path, classification, chunk):
    n = write_npy(tmp_path / "A.npy", tmp_path / "y.npy", chunked(classification.A, classification.y, chunk))
    assert n == N
    np.testing.assert_array_equal(np.load(tmp_path / "A.npy"), classification.A)
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, classification.y)
    assert not list(tmp_path.glob("*.partial"))


def test_writer_dtype_and_context_manager(tmp_path, regression):
    with NpyWriter(tmp_path / "A.npy", tmp_path / "y.npy", dtype=np.float32) as writer:
        for A, y in chunked(regression.A, regression.y, 512):
            writer.append(A, y)
        assert writer.n == N
    A = np.load(tmp_path / "A.npy")
    assert A.dtype == np.float32 and A.shape == (N, DIM)
    np.testing.assert_array_equal(A, regression.A.astype(np.float32))
    assert np.load(tmp_path / "y.npy").dtype == np.float64


def test_writer_leaves_nothing_behind_on_error(tmp_path, regression):
    with pytest.raises(RuntimeError), NpyWriter(tmp_path / "A.npy", tmp_path / "y.npy") as writer:
        writer.append(regression.A[:10], regression.y[:10])
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


BAD_BLOCKS = [
    ("nan", lambda A, y: (np.where(np.arange(A.size).reshape(A.shape) == 7, np.nan, A), y), ValueError,
     "A contains NaN or Inf \\(at row 11, column 1\\)"),
    ("nan-y", lambda A, y: (A, np.where(np.arange(len(y)) == 2, np.nan, y)), ValueError, "y contains NaN"),
    ("columns", lambda A, y: (A[:, :3], y), ValueError, "must all have 6 columns"),
    ("rows", lambda A, y: (A, y[:-1]), ValueError, "shape mismatch"),
    ("1d-A", lambda A, y: (A[:, 0], y), ValueError, "2-D"),
    ("strings", lambda A, y: (A.astype(str), y), TypeError, "real numbers"),
    ("real-then-integer-y", lambda A, y: (A, np.sign(y).astype(int)), TypeError, "all be real or all be integer"),
]  # fmt: skip


@pytest.mark.parametrize("make, error, match", [b[1:] for b in BAD_BLOCKS], ids=[b[0] for b in BAD_BLOCKS])
def test_writer_rejects_bad_blocks(tmp_path, regression, make, error, match):
    A, y = regression.A, regression.y
    with pytest.raises(error, match=match), NpyWriter(tmp_path / "A.npy", tmp_path / "y.npy") as writer:
        writer.append(A[:10], y[:10])
        writer.append(*make(A[10:20].copy(), y[10:20].copy()))
    assert list(tmp_path.iterdir()) == []


def test_writer_needs_rows_and_two_files(tmp_path):
    with pytest.raises(ValueError, match="no rows were written"):
        write_npy(tmp_path / "A.npy", tmp_path / "y.npy", [])
    with pytest.raises(ValueError, match="two different files"):
        NpyWriter(tmp_path / "A.npy", tmp_path / "A.npy")
    with pytest.raises(ValueError, match="float32 or float64"):
        NpyWriter(tmp_path / "A.npy", tmp_path / "y.npy", dtype=np.int32)


# --- the memory-mapped dataset ---------------------------------------------------------------------------
def test_memmap_dataset(tmp_path, classification):
    data = on_disk(tmp_path, classification)
    assert data.is_out_of_core and not classification.is_out_of_core
    assert isinstance(data.A, np.memmap) and not data.A.flags.writeable
    assert (data.n, data.dim, data.dtype, data.block_rows) == (N, DIM, np.float64, BLOCK)
    assert "memory-mapped" in repr(data)
    assert data.fingerprint() == classification.fingerprint()
    np.testing.assert_array_equal(data.label_values(), [-1, 1])
    idx = np.array([1999, 0, 5, 5, 1024])
    np.testing.assert_array_equal(data.rows(idx), classification.A[idx])
    np.testing.assert_array_equal(data.rows(np.arange(40, 90)), classification.A[40:90])  # one read of the span
    np.testing.assert_array_equal(data.targets(idx), classification.y[idx])
    np.testing.assert_array_equal(data.targets(slice(10, 20)), classification.y[10:20])
    blocks = list((first, A.copy(), y) for first, A, y in data.blocks())
    assert [first for first, _, _ in blocks] == list(range(0, N, BLOCK))
    np.testing.assert_array_equal(np.vstack([A for _, A, _ in blocks]), classification.A)
    sub = data.subset(np.arange(N) % 3 == 0)
    assert not sub.is_out_of_core
    np.testing.assert_array_equal(sub.A, classification.A[::3])
    again = pickle.loads(pickle.dumps(data))
    assert again.is_out_of_core and again.fingerprint() == data.fingerprint()
    assert len(pickle.dumps(data)) < 4096  # the files' names, not their contents
    with pytest.raises(ValueError, match="row indices"):
        data.rows(np.array([N]))


def test_float32_round_trip_keeps_dtype(tmp_path, regression):
    data = on_disk(tmp_path, regression, dtype=np.float32)
    assert data.dtype == np.float32
    in_memory = load_npy(tmp_path / "A.npy", tmp_path / "y.npy")
    assert in_memory.fingerprint() == data.fingerprint()


PROBLEMS = [
    ("least-squares", lambda d: sl.problems.LeastSquares(d, l2=1e-3), "regression"),
    ("logistic", lambda d: sl.problems.LogisticRegression(d, l2=1e-3), "classification"),
    ("logistic-no-l2", lambda d: sl.problems.LogisticRegression(d), "classification"),
    ("softmax", lambda d: sl.problems.SoftmaxRegression(d, l2=1e-3), "softmax"),
]


@pytest.fixture(scope="module")
def datasets(classification, regression):
    return {
        "classification": classification,
        "regression": regression,
        "softmax": sl.data.make_classification(n=N, dim=DIM, n_classes=3, seed=5),
    }


@pytest.mark.parametrize("make, kind", [p[1:] for p in PROBLEMS], ids=[p[0] for p in PROBLEMS])
def test_oracle_agrees_with_in_memory(tmp_path, datasets, make, kind):
    data = datasets[kind]
    mem, disk = make(data), make(on_disk(tmp_path, data))
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal(mem.dim), rng.standard_normal(mem.dim)
    assert disk.loss(x) == pytest.approx(mem.loss(x), rel=1e-13)
    np.testing.assert_allclose(disk.grad(x), mem.grad(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(disk.hvp(x, v), mem.hvp(x, v), rtol=1e-12, atol=1e-15)
    for idx in (np.array([17]), rng.integers(0, N, 32), np.arange(100, 164), np.arange(N)):
        np.testing.assert_array_equal(disk.grad_batch(x, idx), mem.grad_batch(x, idx))  # the same rows, bit for bit
        np.testing.assert_array_equal(disk.component_grads(x, idx), mem.component_grads(x, idx))
    for name in ("L", "mu", "L_max"):
        assert getattr(disk, name) == pytest.approx(getattr(mem, name), rel=1e-12, abs=1e-15)
    assert disk.f_star == pytest.approx(mem.f_star, rel=1e-12)
    np.testing.assert_allclose(disk.x_star, mem.x_star, rtol=1e-8, atol=1e-10)


METHODS = [sl.methods.SGD(), sl.methods.SAGA(), sl.methods.Adam(lr=0.01)]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
@pytest.mark.parametrize("sampler, batch_size", [("uniform", 1), ("reshuffle", 16)])
def test_runs_agree_float32_bit_for_bit(tmp_path, classification, method, sampler, batch_size):
    """float32 data run in Python on both sides: the same rows give the same iterates, bit for bit."""
    data = classification.astype(np.float32)
    mem = sl.problems.LogisticRegression(data, l2=1e-3)
    disk = sl.problems.LogisticRegression(on_disk(tmp_path, data), l2=1e-3)
    runs = [
        sl.run(p, method, epochs=2, batch_size=batch_size, sampler=sampler, seed=7, dtype=np.float32, record=("loss",))
        for p in (mem, disk)
    ]
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    np.testing.assert_array_equal(runs[0].iters, runs[1].iters)
    np.testing.assert_allclose(runs[0].loss, runs[1].loss, rtol=1e-6)  # full passes sum in another order


@pytest.fixture
def block_sized(monkeypatch):
    """The default block size set to BLOCK rows of float32, so in-memory data get the blocks the files get."""
    monkeypatch.setattr(out_of_core, "BLOCK_BYTES", BLOCK * DIM * 4)


@pytest.fixture
def block_loads(monkeypatch):
    """How many whole blocks the reader loaded into its cache."""
    loads = []
    original = out_of_core.NpyArray._load_cache
    monkeypatch.setattr(out_of_core.NpyArray, "_load_cache", lambda self, b: (loads.append(b), original(self, b)))
    return loads


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
@pytest.mark.parametrize("batch_size", [1, 16])
def test_blocks_sampler_runs_agree_and_read_each_block_once(
    tmp_path, classification, block_sized, block_loads, method, batch_size
):
    """sampler="blocks": the same blocks and rows in memory and on disk, so the same iterates, bit for bit; on disk
    each block is read once per epoch (A and y: two loads per block), the rest served from the cache."""
    data = classification.astype(np.float32)
    mem = sl.problems.LogisticRegression(data, l2=1e-3)
    disk = sl.problems.LogisticRegression(on_disk(tmp_path, data, block_rows=None), l2=1e-3)
    assert data.sampler_block_rows == disk.data.sampler_block_rows == disk.data.block_rows == BLOCK
    run = lambda p: sl.run(p, method, epochs=2, batch_size=batch_size, sampler="blocks", seed=7,  # noqa: E731
                           dtype=np.float32, record=("loss",), points_per_decade=None)  # fmt: skip
    runs = [run(mem), run(disk)]
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    np.testing.assert_array_equal(runs[0].iters, runs[1].iters)
    assert len(block_loads) == 2 * 2 * -(-N // BLOCK)  # two epochs, A and y


def test_uniform_sampling_never_loads_whole_blocks(tmp_path, classification, block_loads):
    disk = sl.problems.LogisticRegression(on_disk(tmp_path, classification), l2=1e-3)
    trace = sl.run(disk, sl.methods.SGD(), epochs=2, seed=3, record=("loss",))
    assert trace.status == "budget" and block_loads == []  # random rows rarely stay in one block for long


def test_blocks_run_resumes_out_of_core(tmp_path, classification):
    disk = sl.problems.LogisticRegression(on_disk(tmp_path, classification), l2=1e-3)
    kwargs = {"epochs": 3, "sampler": "blocks", "batch_size": 4, "seed": 5, "record_every": 0.5, "record": ("loss",)}
    full = sl.run(disk, sl.methods.SGD(lr=0.05), **kwargs)
    calls, original = [], disk.grad_batch

    def interrupted(x, idx):
        calls.append(1)
        if len(calls) > 700:  # half way through
            raise KeyboardInterrupt
        return original(x, idx)

    disk.grad_batch = interrupted
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        sl.run(disk, sl.methods.SGD(lr=0.05), checkpoint_path=path, checkpoint_every=0.0, **kwargs)
    del disk.grad_batch
    assert 0 < sl.engine.Checkpoint.load(path).counters["it"] < full.iters[-1]
    resumed = sl.run(disk, sl.methods.SGD(lr=0.05), resume=path, **kwargs)
    np.testing.assert_array_equal(resumed.x, full.x)
    np.testing.assert_array_equal(resumed.loss, full.loss)


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_runs_agree_float64(tmp_path, regression, method):
    mem = sl.problems.LeastSquares(regression, l2=1e-3)
    disk = sl.problems.LeastSquares(on_disk(tmp_path, regression), l2=1e-3)
    runs = [sl.run(p, method, epochs=3, seed=2) for p in (mem, disk)]
    np.testing.assert_allclose(runs[0].x, runs[1].x, rtol=1e-10, atol=1e-12)
    for column in ("loss", "grad_norm2", "dist2"):
        np.testing.assert_allclose(runs[0].columns[column], runs[1].columns[column], rtol=1e-8, atol=1e-14)
    assert runs[0].status == runs[1].status == "budget"


def test_full_gradient_method_streams(tmp_path, regression):
    mem = sl.problems.LeastSquares(regression, l2=1e-3)
    disk = sl.problems.LeastSquares(on_disk(tmp_path, regression), l2=1e-3)
    runs = [sl.run(p, sl.methods.GD(line_search="armijo"), iters=20) for p in (mem, disk)]
    np.testing.assert_allclose(runs[0].x, runs[1].x, rtol=1e-9)


# --- bad files ----------------------------------------------------------------------------------------------
def _npy(path, array, **kwargs):
    np.save(path, array, **kwargs)
    return path


def bad_files(root):
    good_A, good_y = np.ones((40, 3)), np.ones(40)
    _npy(root / "A.npy", good_A)
    _npy(root / "y.npy", good_y)
    (root / "header.npy").write_bytes(b"\x93NUMPY\x01\x00garbage that is not a header")
    (root / "text.npy").write_text("not an array\n")
    _npy(root / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.savez(root / "archive.npz", A=good_A)
    _npy(root / "A3d.npy", np.ones((40, 3, 2)))
    _npy(root / "Aint.npy", np.ones((40, 3), dtype=np.int16))
    _npy(root / "Afortran.npy", np.asfortranarray(np.arange(120.0).reshape(40, 3)))
    _npy(root / "Abig.npy", good_A.astype(">f8"))
    _npy(root / "Aempty.npy", np.ones((0, 3)))
    raw = (root / "A.npy").read_bytes()
    (root / "Atrunc.npy").write_bytes(raw[:-100])
    (root / "Along.npy").write_bytes(raw + b"\0" * 8)
    late_nan = good_A.copy()
    late_nan[37, 2] = np.inf
    _npy(root / "Anan.npy", late_nan)
    _npy(root / "y39.npy", np.ones(39))
    _npy(root / "y2d.npy", np.ones((40, 2)))
    _npy(root / "ystr.npy", np.array(["a"] * 40))
    y_nan = good_y.copy()
    y_nan[33] = np.nan
    _npy(root / "ynan.npy", y_nan)
    return root


BAD_FILES = [
    ("missing", "nope.npy", "y.npy", FileNotFoundError, "design matrix file not found"),
    ("bad-header", "header.npy", "y.npy", ValueError, "malformed .npy file"),
    ("text", "text.npy", "y.npy", ValueError, "malformed .npy file"),
    ("objects", "objects.npy", "y.npy", ValueError, "not a plain numeric type"),
    ("archive", "archive.npz", "y.npy", ValueError, "an .npz archive"),
    ("3d", "A3d.npy", "y.npy", ValueError, "must be 2-D"),
    ("integer-A", "Aint.npy", "y.npy", ValueError, "must be float32 or float64 on disk"),
    ("fortran", "Afortran.npy", "y.npy", ValueError, "Fortran order"),
    ("big-endian", "Abig.npy", "y.npy", ValueError, "byte order"),
    ("empty", "Aempty.npy", "y.npy", ValueError, "empty"),
    ("truncated", "Atrunc.npy", "y.npy", ValueError, "is truncated: its header promises shape \\(40, 3\\)"),
    ("trailing-bytes", "Along.npy", "y.npy", ValueError, "longer than its header says"),
    ("inf-in-a-late-block", "Anan.npy", "y.npy", ValueError, "NaN or Inf \\(at row 37, column 2\\)"),
    ("short-y", "A.npy", "y39.npy", ValueError, "A has 40 rows but y has 39"),
    ("2d-y", "A.npy", "y2d.npy", ValueError, "y must be 1-D"),
    ("string-y", "A.npy", "ystr.npy", ValueError, "must hold real numbers"),
    ("nan-y", "A.npy", "ynan.npy", ValueError, "y contains NaN or Inf \\(at index 33\\)"),
]


@pytest.mark.parametrize("A_name, y_name, error, match", [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_bad_files_are_named(tmp_path, A_name, y_name, error, match):
    root = bad_files(tmp_path)
    with pytest.raises(error, match=match):
        load_npy(root / A_name, root / y_name, mmap=True, block_rows=16)


def test_bad_arguments_and_labels(tmp_path, regression):
    root = bad_files(tmp_path)
    for block_rows in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="block_rows must be a positive integer"):
            load_npy(root / "A.npy", root / "y.npy", mmap=True, block_rows=block_rows)
    with pytest.raises(ValueError, match="mmap=True"):
        load_npy(root / "A.npy", root / "y.npy", block_rows=8)
    data = on_disk(tmp_path, regression)
    with pytest.raises(ValueError, match="binary labels"):
        sl.problems.LogisticRegression(data)
    labels = tmp_path / "labels"
    labels.mkdir()
    write_npy(labels / "A.npy", labels / "y.npy", [(regression.A, np.arange(N) % 3)])
    with pytest.raises(ValueError, match="-1/\\+1 or 0/1"):
        sl.problems.LogisticRegression(load_npy(labels / "A.npy", labels / "y.npy", mmap=True))


def test_replaced_file_is_detected(tmp_path, regression):
    data = on_disk(tmp_path, regression)
    write_npy(tmp_path / "A.npy", tmp_path / "y.npy", [(regression.A[:10], regression.y[:10])])
    with pytest.raises(ValueError, match="changed since it was opened"):
        pickle.loads(pickle.dumps(data))


# --- resident memory ----------------------------------------------------------------------------------------
RSS_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import sgdlab as sl
    import sgdlab.engine, sgdlab.methods  # loaded before the baseline (`import sgdlab` loads them on first use)

    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))

    A_path, y_path, mode = sys.argv[1:4]
    data = sl.data.load_npy(A_path, y_path, mmap=True, block_rows=4096)
    prob = sl.problems.LogisticRegression(data, l2=1e-3)
    x = np.full(data.dim, 0.01)
    prob.loss(x)
    before = status("VmRSS")
    try:  # reset the high-water mark where the kernel allows it
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    if mode == "ours":
        for _ in range(2):
            prob.loss(x), prob.grad(x), prob.hvp(x, x)
        prob.L, prob.L_max
        rng = np.random.default_rng(0)
        for _ in range(200):
            prob.grad_batch(x, rng.integers(0, data.n, 64))
        sl.run(prob, sl.methods.SGD(lr=0.01), iters=3000, record=("loss", "grad_norm2"))
        sl.run(prob, sl.methods.SGD(lr=0.01), iters=3000, sampler="blocks", record=("loss",))
        sl.run(prob, sl.methods.SGD(lr=0.01), epochs=1, batch_size=64, sampler="blocks", record=("loss",))
        sl.run(prob, sl.methods.GD(lr=0.1), iters=2, record=("loss",))
    else:  # the control: the same pass through the memory map
        float(np.sum(data.A @ x))
    print(json.dumps({"before": before, "peak": status("VmHWM")}))
    """
)


def test_resident_memory_does_not_grow_with_the_file(tmp_path):
    """A file 16x the block budget: full passes, minibatches and whole runs leave the peak RSS far below the file
    size, while a pass through the memory map itself (the control) raises it by about the file size."""
    n, dim = 1 << 18, 32  # 64 MiB of float64 in 64 blocks of 1 MiB
    rng = np.random.default_rng(0)
    w = rng.standard_normal(dim)

    def chunks():
        for _ in range(n // 16384):
            A = rng.standard_normal((16384, dim))
            yield A, np.where(A @ w > 0, 1, -1)

    write_npy(tmp_path / "A.npy", tmp_path / "y.npy", chunks())
    size = n * dim * 8
    growth = {}
    for mode in ("ours", "control"):
        out = subprocess.run(
            [sys.executable, "-c", RSS_SCRIPT, str(tmp_path / "A.npy"), str(tmp_path / "y.npy"), mode],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        result = json.loads(out.stdout.strip().splitlines()[-1])
        growth[mode] = result["peak"] - result["before"]
    assert growth["control"] > 0.8 * size, growth  # the measurement sees pages of a mapped file
    assert growth["ours"] < 0.15 * size, growth  # ours: a few blocks' worth, whatever the file size
