"""The bad-input catalogue, files chapter: checkpoints, LIBSVM and ``.npy`` files, CSR structure and the
kinds of values a `Dataset` refuses. Every file is prepared once per session in a temporary folder; special
files (FIFOs, directories) are only ever stat-ed by the code under test, never opened."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import pickle
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import sgdlab as sl
from conftest import well_conditioned_logistic
from sgdlab.data import Dataset, load_libsvm, load_npy
from sgdlab.engine import Checkpoint

TRAILER_SIZE = 91  # b"sgdlab-checkpoint/1 sha256=" and 64 hex digits


class Evil:
    """A pickle whose loading would create ``marker``: what an attacker would put at a checkpoint's path."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def seal(zip_bytes: bytes, version: int = 1) -> bytes:
    """A comment-less zip archive with the checkpoint trailer a writer would add: its checksum is right, so
    whatever is refused is refused for its content."""
    assert zip_bytes[-2:] == b"\0\0"  # the end record's comment length
    body = zip_bytes[:-2] + TRAILER_SIZE.to_bytes(2, "little")
    return body + b"sgdlab-checkpoint/%d sha256=%s" % (version, hashlib.sha256(body).hexdigest().encode())


def forged(path: Path, edit) -> bytes:
    """The checkpoint at ``path`` with its JSON document changed by ``edit(document)`` and sealed again."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "document.npy":
                document = json.loads(np.load(io.BytesIO(data)).tobytes())
                edit(document)
                data = _npy(np.frombuffer(json.dumps(document).encode(), dtype=np.uint8))
            dst.writestr(info.filename, data)
    return seal(out.getvalue())


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=False)
    return out.getvalue()


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _flip(data: bytes, position: int) -> bytes:
    damaged = bytearray(data)
    damaged[position] ^= 0x10
    return bytes(damaged)


@functools.cache
def files() -> Path:
    """A real checkpoint and its damaged, foreign and forged variants; LIBSVM and .npy files."""
    root = Path(tempfile.mkdtemp(prefix="sgdlab-bad-files-"))
    good = root / "good.ckpt"
    sl.run(well_conditioned_logistic(), "SGD", epochs=1, seed=0, checkpoint_path=good, checkpoint_every=0.0)
    data = good.read_bytes()
    with zipfile.ZipFile(good) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    header_end = members["a0.npy"].index(b"\n") + 1
    written = {
        "pickle.ckpt": pickle.dumps(Evil(root / "pwned")),
        "old-format.ckpt": pickle.dumps({"signature": {}, "x": np.zeros(3)}, protocol=2),
        "text.ckpt": b"iterations: 100\nloss: 0.3\n",
        "empty.ckpt": b"",
        "half.ckpt": data[: len(data) // 2],
        "no-last-byte.ckpt": data[:-1],
        "no-trailer.ckpt": data[:-TRAILER_SIZE],
        "flipped-body.ckpt": _flip(data, len(data) // 3),
        "flipped-digest.ckpt": _flip(data, len(data) - 1),  # a hex digit becomes another (or no) digit
        "flipped-version.ckpt": _flip(data, len(data) - TRAILER_SIZE + 18),  # "/1" becomes "/!"
        "arrays.npz": _zip({"x.npy": _npy(np.zeros(3))}),
        "zip-of-text.ckpt": seal(_zip({"notes.txt": b"hello"})),
        "version-2.ckpt": seal(_zip(members), version=2),
        "compressed.ckpt": seal(_zip(members, zipfile.ZIP_DEFLATED)),
        "objects.ckpt": seal(_zip({**members, "a0.npy": _object_npy()})),
        "short-member.ckpt": seal(_zip({**members, "a0.npy": members["a0.npy"][: header_end + 4]})),
        "bad-json.ckpt": seal(_zip({**members, "document.npy": _npy(np.frombuffer(b"{not json", np.uint8))})),
        "other-format.ckpt": forged(good, lambda doc: doc.update(format="pytorch")),
        "document-version.ckpt": forged(good, lambda doc: doc.update(version=7)),
        "method-os-system.ckpt": forged(good, lambda doc: doc["method"].update({"class": "os.system"})),
        "method-bad-param.ckpt": forged(good, lambda doc: doc["method"]["params"]["dict"].update(lr=-1.0)),
        "dangling-array.ckpt": forged(good, lambda doc: doc.update(x={"array": 999})),
        "unknown-tag.ckpt": forged(good, lambda doc: doc.update(x={"pickle": "cos\nsystem\n"})),
        "no-iterate.ckpt": forged(good, lambda doc: doc.update(x="zeros")),
        # LIBSVM
        "huge-index.svm": b"+1 2000000000:0.5\n",
        "wide.svm": b"+1 1:0.5\n-1 12:1\n",
        "random.svm": np.random.default_rng(7).bytes(300),
        "empty.svm": b"",
        "nan.svm": b"+1 1:nan\n-1 2:1\n",
        "label-inf.svm": b"1e400 1:1\n-1 2:1\n",
        "ok.svm": b"+1 1:0.5\n-1 2:1\n",
        # .npy
        "complex.npy": _npy(np.ones((2, 2), dtype=complex)),
        "bool.npy": _npy(np.ones(2, dtype=bool)),
        "strings.npy": _npy(np.array(["a", "b"])),
        "u64.npy": _npy(np.array([1, 2**64 - 1], dtype=np.uint64)),
        "A.npy": _npy(np.ones((2, 2))),
        "dates.npy": _npy(np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]")),
        "truncated.npy": _npy(np.ones((4, 3)))[:-8],
    }
    for name, content in written.items():
        (root / name).write_bytes(content)
    (root / "folder.ckpt").mkdir()
    os.mkfifo(root / "pipe")  # refused by a stat before any open: nothing ever blocks on it
    return root


def _object_npy() -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, np.array([None, {}], dtype=object), allow_pickle=True)
    return out.getvalue()


def _resume(name: str) -> None:
    sl.run(well_conditioned_logistic(), "SGD", epochs=1, seed=0, resume=files() / name)


def _save_custom_method() -> None:
    import dataclasses

    @dataclasses.dataclass(kw_only=True)
    class MyAdam(sl.methods.Adam):
        pass

    problem = well_conditioned_logistic()
    sl.run(problem, MyAdam(), epochs=1, checkpoint_path=files() / "custom" / "c.ckpt", checkpoint_every=0.0)


def _csr(data, indices, indptr, shape) -> sp.csr_matrix:
    """A CSR matrix with exactly these arrays (set after construction: scipy would fix up some of them)."""
    A = sp.csr_matrix(np.zeros(shape))
    A.data, A.indices, A.indptr = np.asarray(data, float), np.asarray(indices), np.asarray(indptr)
    return A


Y2 = [1.0, -1.0]
NOT_A_CKPT = r"is not a readable sgdlab checkpoint"


def _ckpt(name: str, reason: str, error: type = ValueError) -> tuple:
    return (f"ckpt-{name.removesuffix('.ckpt')}", functools.partial(_resume, name), error,
            rf"{re.escape(name)} {NOT_A_CKPT}: {reason}")  # fmt: skip


CASES = [
    # checkpoints: data only, intact, of this format
    _ckpt("pickle.ckpt", "no sgdlab checkpoint trailer"),
    _ckpt("old-format.ckpt", "no sgdlab checkpoint trailer"),
    _ckpt("text.ckpt", "no sgdlab checkpoint trailer"),
    _ckpt("empty.ckpt", "the file is empty"),
    _ckpt("half.ckpt", "no sgdlab checkpoint trailer"),
    _ckpt("no-last-byte.ckpt", "no sgdlab checkpoint trailer"),
    _ckpt("no-trailer.ckpt", "no sgdlab checkpoint trailer"),
    _ckpt("flipped-body.ckpt", "checksum mismatch"),
    _ckpt("flipped-digest.ckpt", "checksum mismatch|no sgdlab checkpoint trailer"),
    _ckpt("flipped-version.ckpt", "no sgdlab checkpoint trailer"),
    ("ckpt-foreign-npz", lambda: Checkpoint.load(files() / "arrays.npz"), ValueError,
     r"arrays\.npz is not a readable sgdlab checkpoint: no sgdlab checkpoint trailer"),
    _ckpt("zip-of-text.ckpt", "it has no member 'document.npy'"),
    _ckpt("version-2.ckpt", "it has format version 2; this sgdlab reads version 1"),
    _ckpt("compressed.ckpt", "member 'document.npy' is compressed"),
    _ckpt("objects.ckpt", "member 'a0.npy' holds Python objects"),
    _ckpt("short-member.ckpt", "member 'a0.npy' has the wrong size for its shape"),
    _ckpt("bad-json.ckpt", "its document is not valid JSON"),
    _ckpt("other-format.ckpt", "its document is not an sgdlab checkpoint"),
    _ckpt("document-version.ckpt", "its document has version 7, not 1"),
    _ckpt("method-os-system.ckpt", "unknown method 'os.system'"),
    _ckpt("method-bad-param.ckpt", r"bad content \(ValueError: lr must be > 0"),
    _ckpt("dangling-array.ckpt", "it has no member 'a999.npy'"),
    _ckpt("unknown-tag.ckpt", "unexpected value"),
    _ckpt("no-iterate.ckpt", "its iterate is not a 1-D float array"),
    _ckpt("folder.ckpt", "it is a directory"),
    ("ckpt-fifo", lambda: Checkpoint.load(files() / "pipe"), ValueError,
     rf"pipe {NOT_A_CKPT}: it is not a regular file"),
    ("ckpt-missing", lambda: _resume("nope.ckpt"), FileNotFoundError, r"checkpoint not found: .*nope\.ckpt"),
    ("ckpt-unregistered-method", _save_custom_method, TypeError,
     "checkpoints store the methods of sgdlab.methods.METHODS; .*MyAdam is not one"),
    # CSR structure: what scipy accepts but the kernels would read out of bounds
    ("csr-index-beyond-width", lambda: Dataset(_csr([1, 2], [0, 5], [0, 1, 2], (2, 3)), Y2), ValueError,
     r"A is not a valid CSR matrix: column index 5 \(row 1\) is outside 0\.\.2"),
    ("csr-negative-index", lambda: Dataset(_csr([1, 2], [-1, 0], [0, 1, 2], (2, 3)), Y2), ValueError,
     r"column index -1 \(row 0\) is outside 0\.\.2"),
    ("csr-indptr-decreasing", lambda: Dataset(_csr([1, 2], [0, 1], [0, 2, 1, 2], (3, 3)), [1.0] * 3), ValueError,
     "A.indptr decreases at row 1"),
    ("csr-indptr-end", lambda: Dataset(_csr([1, 2], [0, 1], [0, 1, 5], (2, 3)), Y2), ValueError,
     r"A.indptr must run from 0 to nnz = 2, got 0\.\.5"),
    ("csr-indptr-start", lambda: Dataset(_csr([1, 2], [0, 1], [1, 1, 2], (2, 3)), Y2), ValueError,
     r"A.indptr must run from 0 to nnz = 2, got 1\.\.2"),
    ("csr-indptr-length", lambda: Dataset(_csr([1, 2], [0, 1], [0, 2], (2, 3)), Y2), ValueError,
     r"A.indptr has 2 entries, needs n \+ 1 = 3"),
    ("csr-float-indices", lambda: Dataset(_csr([1, 2], [0.0, 1.0], [0, 1, 2], (2, 3)), Y2), ValueError,
     "A.indices must be a 1-D integer array"),
    ("csr-indices-count", lambda: Dataset(_csr([1, 2], [0], [0, 1, 2], (2, 3)), Y2), ValueError,
     "1 column indices for 2 values"),
    ("csr-complex", lambda: Dataset(sp.csr_matrix(np.eye(2) * 1j), Y2), TypeError,
     r"A must hold real numbers, got dtype complex128 \(complex values are not supported\)"),
    # kinds of values
    ("complex-A", lambda: Dataset(np.eye(2) + 1j, Y2), TypeError, "A must hold real numbers, got dtype complex128"),
    ("complex-y", lambda: Dataset(np.eye(2), np.array([1, 1j])), TypeError,
     "y must hold numbers, got dtype complex128 (complex values are not supported)"),
    ("masked-A", lambda: Dataset(np.ma.masked_invalid([[1.0, np.nan], [0.0, 1.0]]), Y2), ValueError,
     "A: masked arrays are not supported; fill or drop the masked entries"),
    ("masked-y", lambda: Dataset(np.eye(2), np.ma.masked_array(Y2, mask=[0, 1])), ValueError,
     "y: masked arrays are not supported"),
    ("uint64-labels", lambda: Dataset(np.eye(2), np.array([0, 2**63], dtype=np.uint64)), ValueError,
     "y holds unsigned integers up to 9223372036854775808, beyond int64"),
    ("object-A", lambda: Dataset(np.array([[1, 2], [3, 4]], dtype=object), Y2), TypeError,
     "A must hold real numbers, got dtype object"),
    ("object-y", lambda: Dataset(np.eye(2), np.array([1, None], dtype=object)), TypeError,
     "y must hold numbers, got dtype object"),
    ("string-y", lambda: Dataset(np.eye(2), ["spam", "ham"]), TypeError, "y must hold numbers, got dtype <U4"),
    ("dates-A", lambda: Dataset(np.array([["2024-01-01"]], dtype="datetime64[D]"), [1.0]), TypeError,
     r"A must hold real numbers, got dtype datetime64\[D\]"),
    # LIBSVM files
    ("libsvm-huge-index", lambda: load_libsvm(files() / "huge-index.svm"), ValueError,
     r"huge-index\.svm, line 1: feature index 2000000000 would make 2000000000 features.*pass n_features="),
    ("libsvm-beyond-n_features", lambda: load_libsvm(files() / "wide.svm", n_features=5), ValueError,
     r"wide\.svm, line 2: feature index 12 is beyond n_features=5"),
    ("libsvm-int-dtype", lambda: load_libsvm(files() / "ok.svm", dtype=int), ValueError,
     "dtype must be float32 or float64, got int"),
    ("libsvm-float16", lambda: load_libsvm(files() / "ok.svm", dtype=np.float16), ValueError,
     "dtype must be float32 or float64, got float16"),
    ("libsvm-n_features-zero", lambda: load_libsvm(files() / "ok.svm", n_features=0), ValueError,
     "n_features must be >= 1"),
    ("libsvm-n_features-float", lambda: load_libsvm(files() / "ok.svm", n_features=2.5), (TypeError, ValueError),
     "n_features"),
    ("libsvm-missing", lambda: load_libsvm(files() / "nope.svm"), FileNotFoundError,
     r"LIBSVM file not found: .*nope\.svm"),
    ("libsvm-directory", lambda: load_libsvm(files() / "folder.ckpt"), ValueError,
     r"LIBSVM file .*folder\.ckpt is a directory"),
    ("libsvm-fifo", lambda: load_libsvm(files() / "pipe"), ValueError, "LIBSVM file .*pipe is not a regular file"),
    ("libsvm-binary", lambda: load_libsvm(files() / "random.svm"), ValueError,
     r"random\.svm is not a LIBSVM text file: it holds binary data"),
    ("libsvm-npy", lambda: load_libsvm(files() / "A.npy"), ValueError, r"A\.npy is not a LIBSVM text file"),
    ("libsvm-empty", lambda: load_libsvm(files() / "empty.svm"), ValueError, r"empty\.svm holds no samples"),
    ("libsvm-nan", lambda: load_libsvm(files() / "nan.svm"), ValueError,
     r"nan\.svm: A contains NaN or Inf \(at stored entry 0\)"),
    ("libsvm-label-overflow", lambda: load_libsvm(files() / "label-inf.svm"), ValueError,
     r"label-inf\.svm: y contains NaN or Inf \(at index 0\)"),
    # .npy files
    ("npy-complex", lambda: load_npy(files() / "complex.npy", files() / "bool.npy"), TypeError,
     "complex values are not supported"),
    ("npy-strings-y", lambda: load_npy(files() / "A.npy", files() / "strings.npy"), TypeError,
     "y must hold numbers, got dtype <U1"),
    ("npy-dates", lambda: load_npy(files() / "dates.npy", files() / "bool.npy"), TypeError,
     r"got dtype datetime64\[D\]"),
    ("npy-uint64-labels", lambda: load_npy(files() / "A.npy", files() / "u64.npy"), ValueError,
     "y holds unsigned integers up to 18446744073709551615, beyond int64"),
    ("npy-uint64-labels-mmap", lambda: load_npy(files() / "A.npy", files() / "u64.npy", mmap=True), ValueError,
     "y holds unsigned integers up to 18446744073709551615"),
    ("npy-truncated", lambda: load_npy(files() / "truncated.npy", files() / "bool.npy"), ValueError,
     r"truncated\.npy"),
    ("npy-directory", lambda: load_npy(files() / "folder.ckpt", files() / "bool.npy"), ValueError,
     r"design matrix file .*folder\.ckpt is a directory"),
    ("npy-fifo", lambda: load_npy(files() / "A.npy", files() / "pipe"), ValueError,
     "targets file .*pipe is not a regular file"),
    ("npy-fifo-mmap", lambda: load_npy(files() / "pipe", files() / "bool.npy", mmap=True), ValueError,
     "design matrix file .*pipe is not a regular file"),
    ("npy-directory-mmap", lambda: load_npy(files() / "A.npy", files() / "folder.ckpt", mmap=True), ValueError,
     r"targets file .*folder\.ckpt is a directory"),
]  # fmt: skip
