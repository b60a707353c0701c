"""Checkpoint files hold data only: nothing in one executes, and a damaged, foreign or special file is refused
with one clear error naming it, never resumed into a different run."""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import signal
import zipfile

import numpy as np
import pytest

import sgdlab as sl
from catalogue_files import Evil, forged, seal
from conftest import make_problem
from sgdlab.engine import Checkpoint

KWARGS = {"epochs": 3, "seed": 4, "batch_size": 2, "points_per_decade": 10}


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail, rather than block the suite, when the body hangs (e.g. opening a FIFO that nobody writes)."""

    def expire(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A real checkpoint of a run interrupted half-way (SLBFGS: arrays, lists of arrays, floats and a schedule in
    its state) and the trace that resuming it gives, which is the uninterrupted run's."""
    problem = make_problem("logistic_l2")
    path = tmp_path_factory.mktemp("ckpt") / "run.ckpt"
    method = lambda: sl.methods.SLBFGS(memory=3, schedule="InverseTime(k0=7.25)")  # noqa: E731
    full = sl.run(problem, method(), **KWARGS)
    calls = {"n": 0}

    def interrupting(x, loss=problem.loss):
        calls["n"] += 1
        if calls["n"] > len(full.iters) // 2:
            raise KeyboardInterrupt
        return loss(x)

    problem.loss = interrupting
    with pytest.raises(KeyboardInterrupt):
        sl.run(problem, method(), **KWARGS, checkpoint_path=path, checkpoint_every=0.0)
    del problem.loss
    resumed = sl.run(problem, method(), **KWARGS, resume=path)
    assert 0 < Checkpoint.load(path).counters["it"] < full.iters[-1]
    np.testing.assert_array_equal(resumed.x, full.x)
    return problem, method, path, resumed


def resume(problem, method, path):
    return sl.run(problem, method(), **KWARGS, resume=path)


def test_the_file_is_a_plain_npz_with_a_trailer(saved):
    _, _, path, _ = saved
    with np.load(path, allow_pickle=False) as archive:
        assert "document" in archive.files and archive["document"].dtype == np.uint8
        assert all(archive[name].dtype != object for name in archive.files)
    assert path.read_bytes()[-91:].startswith(b"sgdlab-checkpoint/1 sha256=")


def test_a_checkpoint_round_trips_exactly(saved):
    problem, method, path, resumed = saved
    checkpoint = Checkpoint.load(path)
    copy_path = path.with_name("copy.ckpt")
    checkpoint.save(copy_path)
    again = Checkpoint.load(copy_path)
    assert again.method == checkpoint.method and again.signature == checkpoint.signature
    assert again.counters == checkpoint.counters and again.columns == checkpoint.columns
    assert type(again.state["gamma"]) is type(checkpoint.state["gamma"])
    assert all(np.array_equal(a, b) for a, b in zip(again.state["s"], checkpoint.state["s"], strict=True))
    np.testing.assert_array_equal(resume(problem, method, copy_path).x, resumed.x)


def test_a_malicious_pickle_is_never_executed(tmp_path):
    marker, proof = tmp_path / "pwned", tmp_path / "proof"
    pickle.loads(pickle.dumps(Evil(proof)))  # the payload is real: unpickling it does run code
    assert proof.exists()
    path = tmp_path / "run.ckpt"
    path.write_bytes(pickle.dumps(Evil(marker)))
    with pytest.raises(ValueError, match=r"run\.ckpt is not a readable sgdlab checkpoint"):
        sl.run(make_problem("logistic_l2"), "SGD", epochs=1, resume=path)
    assert not marker.exists()


def test_a_forged_checksum_still_builds_nothing_but_registered_methods(saved, tmp_path):
    _, _, path, _ = saved
    bad = tmp_path / "forged.ckpt"
    bad.write_bytes(forged(path, lambda doc: doc["method"].update({"class": "os.system"})))
    with pytest.raises(ValueError, match=r"unknown method 'os\.system'"):
        Checkpoint.load(bad)


def test_every_single_bit_flip_is_refused_or_harmless(saved, tmp_path):
    """300 flips at random positions: each is refused with the checksum's error, or (were any to pass) resumes
    to the identical trace. None may resume into something else."""
    problem, method, path, resumed = saved
    original = path.read_bytes()
    rng = np.random.default_rng(2024)
    outcome = {"refused": 0, "identical": 0, "other": 0}
    flipped = tmp_path / "flipped.ckpt"
    for position, bit in zip(rng.integers(0, len(original), 300), rng.integers(0, 8, 300), strict=True):
        data = bytearray(original)
        data[position] ^= 1 << bit
        flipped.write_bytes(bytes(data))
        try:
            trace = resume(problem, method, flipped)
        except ValueError as exc:
            assert "flipped.ckpt is not a readable sgdlab checkpoint" in str(exc)
            outcome["refused"] += 1
            continue
        same = np.array_equal(trace.x, resumed.x) and all(
            np.array_equal(trace.columns[k], resumed.columns[k]) for k in resumed.columns if k != "time_s"
        )
        outcome["identical" if same else "other"] += 1
    assert outcome["other"] == 0, outcome
    assert outcome["refused"] + outcome["identical"] == 300
    assert outcome["refused"] == 300, outcome  # the trailer covers every byte: no flip goes unnoticed


@pytest.mark.parametrize("keep", [0, 1, 22, 0.5, -91, -1])
def test_truncated_checkpoints_are_refused(saved, tmp_path, keep):
    _, _, path, _ = saved
    data = path.read_bytes()
    keep = int(len(data) * keep) if isinstance(keep, float) else keep
    bad = tmp_path / "cut.ckpt"
    bad.write_bytes(data[:keep])
    message = "the file is empty" if len(data[:keep]) == 0 else "no sgdlab checkpoint trailer"
    with pytest.raises(ValueError, match=rf"cut\.ckpt is not a readable sgdlab checkpoint: {message}"):
        Checkpoint.load(bad)


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.ckpt"
    os.mkfifo(fifo)
    with deadline(10), pytest.raises(ValueError, match=r"pipe\.ckpt is not a readable .*not a regular file"):
        Checkpoint.load(fifo)
    with pytest.raises(ValueError, match="is a directory"):
        Checkpoint.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        Checkpoint.load(tmp_path / "missing.ckpt")


def test_foreign_files_are_refused(saved, tmp_path):
    _, _, path, _ = saved
    foreign = {
        "old.ckpt": pickle.dumps({"signature": {}, "x": np.zeros(3)}),
        "notes.ckpt": b"resume me\n" * 20,
        "arrays.ckpt": _npz(x=np.zeros(3)),
        "v2.ckpt": seal(_zip_bytes(path), version=2),
        "objects.ckpt": seal(_zip_with_object_member()),
    }
    expected = {
        "old.ckpt": "no sgdlab checkpoint trailer",
        "notes.ckpt": "no sgdlab checkpoint trailer",
        "arrays.ckpt": "no sgdlab checkpoint trailer",
        "v2.ckpt": "format version 2; this sgdlab reads version 1",
        "objects.ckpt": "holds Python objects",
    }
    for name, data in foreign.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=expected[name]):
            Checkpoint.load(tmp_path / name)


def test_saving_an_unregistered_method_is_a_clear_error(tmp_path):
    @__import__("dataclasses").dataclass(kw_only=True)
    class MySGD(sl.methods.SGD):
        pass

    with pytest.raises(TypeError, match="MySGD is not one"):
        sl.run(make_problem("logistic_l2"), MySGD(lr=0.1), epochs=1, checkpoint_path=tmp_path / "c", checkpoint_every=0)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def _npz(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def _zip_bytes(path) -> bytes:
    """A checkpoint's archive without its trailer."""
    with zipfile.ZipFile(path) as src:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info))
        return out.getvalue()


def _zip_with_object_member() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        member = io.BytesIO()
        np.lib.format.write_array(member, np.array([None, {}], dtype=object), allow_pickle=True)
        archive.writestr("document.npy", member.getvalue())
    return out.getvalue()
