"""Mid-run checkpoints: everything a run needs to continue exactly where it was.

A checkpoint holds the iterate, the method's state, the sampler's random state, the counters, and the
columns recorded so far, plus a *signature* of the run's arguments: a checkpoint resumes only the run that
wrote it (same problem data, method, hyperparameters, sampling, seed, budget and recording). Resuming gives
the trace the uninterrupted run would have given, bit for bit, except `time_s`.

The file is data only, never code: an uncompressed `.npz` archive (readable with `np.load`) of plain numeric arrays `a0,
a1, …` plus `document`, a UTF-8 JSON text that holds everything else and refers to the arrays by number. The method is
stored as its class name in `sgdlab.methods.METHODS` and its hyperparameters, schedules as their class and fields. The
archive's comment, its last bytes, reads `sgdlab-checkpoint/<version> sha256=<hex>`: the SHA-256 of every byte before
it. [`Checkpoint.load`][sgdlab.engine.Checkpoint.load] checks that trailer before parsing anything, so a damaged file
(any flipped bit, a truncation) or a foreign one is refused with one `ValueError` naming it, and nothing in a file is
ever unpickled or executed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sgdlab.methods import METHODS, Constant, Cosine, InverseSqrt, InverseTime, StepDecay, Warmup
from sgdlab.methods.base import Method
from sgdlab.methods.schedules import Schedule

FORMAT_VERSION = 1
_TRAILER = re.compile(rb"sgdlab-checkpoint/(\d) sha256=([0-9a-f]{64})")
_TRAILER_SIZE = len(b"sgdlab-checkpoint/1 sha256=") + 64
_SCHEDULES = {cls.__name__: cls for cls in (Constant, InverseTime, InverseSqrt, StepDecay, Cosine, Warmup)}
_CHUNK = 1 << 20


class _Unreadable(Exception):
    """Why a file is not a checkpoint; `Checkpoint.load` turns it into a `ValueError` naming the file."""


@dataclass
class Checkpoint:
    """Everything a run needs to continue exactly where it was; `sl.run(..., checkpoint_path=...)` writes
    them, `sl.run(..., resume=...)` continues from one.

    A checkpoint resumes only the run that wrote it (`signature`: same problem data, method,
    hyperparameters, sampling, seed, budget and recording); the resumed run returns the trace the
    uninterrupted run would have returned, bit for bit except `time_s`. The file is data only (see the
    module's description above): a damaged or foreign file is refused, nothing in it is ever executed.

    Attributes:
        signature: The run's identity, as `sl.run` describes it.
        method: The method as resolved when the run started (so schedules keep their length).
        x: The iterate.
        state: The method's state (momenta, gradient tables, …).
        sampler: The sampler's state ([`Sampler.get_state`][sgdlab.engine.Sampler.get_state]).
        counters: The loop's counters so far: iterations `it`, gradient evaluations `ev`, optimisation
            seconds `elapsed`, ….
        columns: The trace's columns recorded so far.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> import sgdlab as sl
        >>> from sgdlab.engine import Checkpoint
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=100, dim=5, seed=0))
        >>> path = Path(tempfile.mkdtemp()) / "run.ckpt"
        >>> whole = sl.run(prob, "Adam", epochs=20, seed=1, checkpoint_path=path, checkpoint_every=0)
        >>> Checkpoint.load(path).counters["it"]  # the last checkpoint: at the end of the run
        2000
        >>> again = sl.run(prob, "Adam", epochs=20, seed=1, resume=path)
        >>> bool(np.array_equal(again.x, whole.x))
        True
    """

    signature: dict[str, Any]
    method: Method  # as resolved when the run started (so schedules keep their length)
    x: np.ndarray
    state: dict[str, Any]
    sampler: dict[str, Any]
    counters: dict[str, float]
    columns: dict[str, list[float]]

    def save(self, path: str | os.PathLike) -> None:
        """Write the checkpoint to `path` atomically: a reader (or a resumed run after a crash) never sees half
        a file."""
        path = Path(path)
        arrays: list[np.ndarray] = []
        document = {
            "format": "sgdlab-checkpoint",
            "version": FORMAT_VERSION,
            "signature": _encode(self.signature, arrays),
            "method": _encode_method(self.method, arrays),
            "x": _encode(self.x, arrays),
            "state": _encode(self.state, arrays),
            "sampler": _encode(self.sampler, arrays),
            "counters": _encode(self.counters, arrays),
            "columns": {name: _encode(np.asarray(v, dtype=np.float64), arrays) for name, v in self.columns.items()},
        }
        text = json.dumps(document, sort_keys=True).encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as tmp:
            try:
                with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                    archive.writestr("document.npy", _npy_bytes(np.frombuffer(text, dtype=np.uint8)))
                    for i, array in enumerate(arrays):
                        with archive.open(f"a{i}.npy", "w", force_zip64=True) as member:
                            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
                    archive.comment = b"\0" * _TRAILER_SIZE  # a placeholder of the trailer's length
                tmp.flush()
                size = tmp.tell()
                tmp.seek(0)
                digest = _sha256(tmp, size - _TRAILER_SIZE)
                tmp.seek(size - _TRAILER_SIZE)
                tmp.write(b"sgdlab-checkpoint/%d sha256=%s" % (FORMAT_VERSION, digest.encode()))
                tmp.flush()
                os.fsync(tmp.fileno())
            except BaseException:
                tmp.close()
                os.unlink(tmp.name)
                raise
        os.replace(tmp.name, path)

    @staticmethod
    def load(path: str | os.PathLike) -> Checkpoint:
        """Read a checkpoint written by [`save`][sgdlab.engine.Checkpoint.save].

        Args:
            path: The file.

        Returns:
            The [`Checkpoint`][sgdlab.engine.Checkpoint].

        Raises:
            FileNotFoundError: The file does not exist.
            ValueError: Anything else that is not an intact checkpoint of this format (damaged, truncated,
                empty, foreign, a directory or other special file), naming the file.
        """
        try:
            return _decode_checkpoint(_read_verified(path))
        except FileNotFoundError:
            raise FileNotFoundError(f"checkpoint not found: {path}") from None
        except _Unreadable as exc:
            raise ValueError(f"{path} is not a readable sgdlab checkpoint: {exc}") from None
        except (OSError, MemoryError) as exc:
            raise ValueError(f"{path} is not a readable sgdlab checkpoint: {exc}") from None

    def check_signature(self, signature: dict[str, Any]) -> None:
        """Raise `ValueError`, naming the differing settings, unless this checkpoint was written by the run
        `signature` describes."""
        different = sorted(k for k in set(signature) | set(self.signature) if signature.get(k) != self.signature.get(k))
        if different:
            raise ValueError("this checkpoint belongs to a different run; it differs in " + ", ".join(different))


# --- the file: a zip archive whose comment is the checksum of everything before it ---------------------------
def _sha256(handle, size: int) -> str:
    h = hashlib.sha256()
    left = size
    while left > 0:
        chunk = handle.read(min(_CHUNK, left))
        if not chunk:
            break
        h.update(chunk)
        left -= len(chunk)
    return h.hexdigest()


def _npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=False)
    return out.getvalue()


def _read_verified(path: str | os.PathLike) -> bytes:
    """The file's bytes, once its trailer is found and its checksum matches (special files are never opened
    for reading: a FIFO would block until some writer appears)."""
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise _Unreadable("it is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise _Unreadable("it is not a regular file (a FIFO, device or socket)")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode):  # replaced since the stat above
            raise _Unreadable("it is not a regular file")
        if opened.st_size == 0:
            raise _Unreadable("the file is empty")
        if opened.st_size > _TRAILER_SIZE:  # the trailer first: a large foreign file is refused unread
            handle.seek(-_TRAILER_SIZE, os.SEEK_END)
            tail = handle.read()
            handle.seek(0)
        if opened.st_size <= _TRAILER_SIZE or _TRAILER.fullmatch(tail) is None:
            raise _Unreadable("no sgdlab checkpoint trailer (truncated, damaged, or not a checkpoint of this format)")
        data = handle.read()
    match = _TRAILER.fullmatch(data[-_TRAILER_SIZE:])
    if match is None:  # changed while being read
        raise _Unreadable("no sgdlab checkpoint trailer (the file changed while it was read)")
    version = int(match.group(1))
    if version != FORMAT_VERSION:
        raise _Unreadable(f"it has format version {version}; this sgdlab reads version {FORMAT_VERSION}")
    if hashlib.sha256(data[:-_TRAILER_SIZE]).hexdigest().encode() != match.group(2):
        raise _Unreadable("checksum mismatch (the file is damaged)")
    return data


def _read_member(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    """One `.npy` member: numbers only, and only as many bytes as the archive really holds for it."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _Unreadable(f"it has no member {name!r}") from None
    if info.compress_type != zipfile.ZIP_STORED:
        raise _Unreadable(f"member {name!r} is compressed")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            raise _Unreadable(f"member {name!r} has .npy format version {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(member)
        if dtype.hasobject:
            raise _Unreadable(f"member {name!r} holds Python objects")
        expected = math.prod(shape) * dtype.itemsize
        if member.tell() + expected != info.file_size:
            raise _Unreadable(f"member {name!r} has the wrong size for its shape {shape}")
        array = np.frombuffer(member.read(expected), dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy()


def _decode_checkpoint(data: bytes) -> Checkpoint:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            text = _read_member(archive, "document.npy")
            if text.dtype != np.uint8 or text.ndim != 1:
                raise _Unreadable("its document is not UTF-8 text")
            document = json.loads(text.tobytes().decode())
            if not isinstance(document, dict) or document.get("format") != "sgdlab-checkpoint":
                raise _Unreadable("its document is not an sgdlab checkpoint")
            if document.get("version") != FORMAT_VERSION:
                raise _Unreadable(f"its document has version {document.get('version')!r}, not {FORMAT_VERSION}")
            arrays = _Arrays(archive)
            checkpoint = Checkpoint(
                signature=_decode(document["signature"], arrays),
                method=_decode_method(document["method"], arrays),
                x=_decode(document["x"], arrays),
                state=_decode(document["state"], arrays),
                sampler=_decode(document["sampler"], arrays),
                counters=_decode(document["counters"], arrays),
                columns={name: _decode(v, arrays).tolist() for name, v in document["columns"].items()},
            )
    except _Unreadable:
        raise
    except zipfile.BadZipFile as exc:
        raise _Unreadable(f"not a valid archive ({exc})") from None
    except UnicodeDecodeError:
        raise _Unreadable("its document is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"its document is not valid JSON ({exc})") from None
    except (ValueError, TypeError, KeyError, AttributeError, EOFError, RecursionError) as exc:
        raise _Unreadable(f"bad content ({type(exc).__name__}: {exc})") from None
    for name, value in (("signature", checkpoint.signature), ("state", checkpoint.state),
                        ("sampler", checkpoint.sampler), ("counters", checkpoint.counters)):  # fmt: skip
        if not isinstance(value, dict):
            raise _Unreadable(f"its {name} is not a mapping")
    if not isinstance(checkpoint.x, np.ndarray) or checkpoint.x.ndim != 1 or checkpoint.x.dtype.kind != "f":
        raise _Unreadable("its iterate is not a 1-D float array")
    return checkpoint


# --- values as JSON: every non-JSON value is a one-key object naming its kind ---------------------------------
class _Arrays:
    """The archive's arrays, read on first use."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive

    def __getitem__(self, i: object) -> np.ndarray:
        if isinstance(i, bool) or not isinstance(i, int):
            raise _Unreadable(f"bad array reference {i!r}")
        return _read_member(self.archive, f"a{i}.npy")


def _encode(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, np.ndarray | np.generic):  # first: np.float64 is a float, and must stay an np.float64
        if value.dtype.hasobject or value.dtype.kind not in "biufc":
            raise TypeError(f"a checkpoint stores numeric arrays only, got dtype {value.dtype}")
        arrays.append(np.asarray(value))
        return {"scalar" if isinstance(value, np.generic) else "array": len(arrays) - 1}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"a checkpoint stores mappings with text keys only, got {list(value)}")
        return {"dict": {k: _encode(v, arrays) for k, v in value.items()}}
    if isinstance(value, Schedule) and type(value) in _SCHEDULES.values():
        fields = {f.name: _encode(getattr(value, f.name), arrays) for f in dataclasses.fields(value)}
        return {"schedule": [type(value).__name__, fields]}
    raise TypeError(f"a checkpoint cannot store a {type(value).__name__}")


def _decode(value: Any, arrays: _Arrays) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not (isinstance(value, dict) and len(value) == 1):
        raise _Unreadable(f"unexpected value {value!r}")
    ((kind, inner),) = value.items()
    if kind == "array":
        return arrays[inner]
    if kind == "scalar":
        array = arrays[inner]
        if array.ndim != 0:
            raise _Unreadable("a scalar with a shape")
        return array[()]
    if kind == "tuple" and isinstance(inner, list):
        return tuple(_decode(v, arrays) for v in inner)
    if kind == "dict" and isinstance(inner, dict):
        return {k: _decode(v, arrays) for k, v in inner.items()}
    if kind == "schedule" and isinstance(inner, list) and len(inner) == 2 and inner[0] in _SCHEDULES:
        return _SCHEDULES[inner[0]](**_decode({"dict": inner[1]}, arrays))
    raise _Unreadable(f"unexpected value {value!r}")


def _encode_method(method: Method, arrays: list[np.ndarray]) -> dict[str, Any]:
    """The method as its registered class name and hyperparameters (checked to rebuild the same method)."""
    name = type(method).__name__
    if METHODS.get(name) is not type(method):
        raise TypeError(
            f"checkpoints store the methods of sgdlab.methods.METHODS; {type(method).__qualname__} is not one"
        )
    params = {f.name: getattr(method, f.name) for f in dataclasses.fields(method) if f.init}
    if type(method)(**params) != method:
        raise TypeError(f"{name} cannot be rebuilt from its hyperparameters, so it cannot be checkpointed")
    return {"class": name, "params": _encode(params, arrays)}


def _decode_method(value: Any, arrays: _Arrays) -> Method:
    if not isinstance(value, dict) or value.get("class") not in METHODS:
        raise _Unreadable(f"unknown method {value.get('class') if isinstance(value, dict) else value!r}")
    params = _decode(value.get("params"), arrays)
    if not isinstance(params, dict):
        raise _Unreadable("the method's hyperparameters are not a mapping")
    return METHODS[value["class"]](**params)
