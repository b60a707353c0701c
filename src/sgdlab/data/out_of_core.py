"""Out-of-core data: `.npy` files written block by block and read back without loading them.

A dataset on disk is two `.npy` files: the design matrix `A` (n × dim, C order, float32 or float64) and
the targets `y` (n). [`NpyWriter`][sgdlab.data.NpyWriter] (or [`write_npy`][sgdlab.data.write_npy])
writes them from row blocks; the final number of rows is patched into the headers when the writer closes, so
n need not be known in advance.

Reading never maps file pages into the process. Pages of a memory map count towards the resident set once
touched, so one pass over `A` through `np.memmap` makes the RSS as large as the file. Instead:

* full passes (validation, loss, gradient, constants, fingerprint) read consecutive row blocks into one
  reusable buffer with positioned reads (`NpyArray.blocks`);
* minibatches read their rows with one positioned read per row, or one read of the rows' span when the
  indices are dense enough (`NpyArray.gather`);
* requests that keep falling inside one block (the `"blocks"` sampler of `sgdlab.engine.samplers`) are served
  from a one-block cache: once `_CACHE_AFTER` rows in a row came from one block, that whole block is read
  once and later rows of it cost a copy, not a system call.

Both go through the operating system's page cache, which is not part of the RSS, so the resident memory of
a pass is the block buffer (`block_rows × dim`) whatever n is.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

#: Rows per block default to this many bytes of `A`: large enough that a read costs little per row,
#: small enough that the buffer and the per-block temporaries stay a few tens of MiB.
BLOCK_BYTES = 8 << 20

#: A minibatch whose indices span at most this many rows per index is read as one contiguous span.
_SPAN_FACTOR = 64

#: A block is read whole into the cache once this many consecutive rows were asked of it. Random rows from
#: all over the file (uniform sampling) rarely stay in one block that long, so they never pay for whole blocks.
_CACHE_AFTER = 32

#: Every header this module writes has this size (a multiple of 64, as the .npy format recommends), so the
#: final shape fits in the space reserved when the file was opened.
_HEADER_BYTES = 128


def default_block_rows(row_bytes: int) -> int:
    """Rows per block for rows of `row_bytes` bytes: about `BLOCK_BYTES` of data."""
    return max(1, BLOCK_BYTES // max(int(row_bytes), 1))


def _header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    descr = np.lib.format.dtype_to_descr(dtype)
    text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    room = _HEADER_BYTES - 10 - 1  # magic (6) + version (2) + length (2); a newline ends the header
    if len(text) > room:
        raise ValueError(f"shape {shape} does not fit in a {_HEADER_BYTES}-byte .npy header")
    return np.lib.format.magic(1, 0) + struct.pack("<H", _HEADER_BYTES - 10) + (text.ljust(room) + "\n").encode()


class NpyArray:
    """A C-ordered `.npy` array on disk, read in row blocks or gathered by row index.

    `shape`, `dtype` and `offset` (the header's length) come from the header, which is checked against
    the file's size. The file descriptor is opened on first use and reopened after unpickling.
    """

    def __init__(self, path: str | os.PathLike, what: str = "array") -> None:
        self.path = Path(path)
        self.what = what
        if not self.path.exists():
            raise FileNotFoundError(f"{what} file not found: {self.path}")
        if not self.path.is_file():  # checked before opening: a FIFO would block until a writer appears
            kind = "a directory" if self.path.is_dir() else "not a regular file (a FIFO, device or socket)"
            raise ValueError(f"{what} file {self.path} is {kind}")
        with open(self.path, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                raise ValueError(f"{self.path} holds several arrays (an .npz archive?); give one .npy file per array")
            f.seek(0)
            try:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
            except (ValueError, OSError, SyntaxError) as exc:
                raise ValueError(f"malformed .npy file {self.path}: {exc}") from None
            self.offset = f.tell()
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise ValueError(f"malformed .npy file {self.path}: dtype {dtype} is not a plain numeric type")
        if dtype.kind not in "biuf":
            raise ValueError(f"{what} in {self.path} must hold real numbers, got dtype {dtype}")
        if not dtype.isnative:
            raise ValueError(
                f"{what} in {self.path} is stored with non-native byte order ({dtype.str}); "
                f"save it as {dtype.newbyteorder('=')} to memory-map it"
            )
        if fortran_order and len(shape) > 1 and min(shape) > 1:
            raise ValueError(
                f"{what} in {self.path} is stored in Fortran order; rows must be contiguous on disk to be read "
                "in blocks: save np.ascontiguousarray(A)"
            )
        self.shape: tuple[int, ...] = tuple(int(s) for s in shape)
        self.dtype: np.dtype = dtype
        self.row_bytes = dtype.itemsize * math.prod(self.shape[1:])
        expected = self.offset + dtype.itemsize * math.prod(self.shape)
        actual = self.path.stat().st_size
        if actual != expected:
            state = "truncated" if actual < expected else "longer than its header says"
            raise ValueError(
                f"{what} file {self.path} is {state}: its header promises shape {self.shape} of {dtype} "
                f"({expected} bytes with the header) but the file has {actual} bytes"
            )
        self._fd: int | None = None
        self._stamp = self._identity()
        #: Rows per cached block (aligned at multiples of it); 0 turns the cache off.
        self.cache_rows = 0
        self._drop_cache()

    def _drop_cache(self) -> None:
        self._cache: np.ndarray | None = None
        self._cache_first, self._cache_stop = 0, 0  # rows held: [first, stop)
        self._run_block, self._run_rows = -1, 0  # the block the latest requests stayed in, and how many rows

    def _identity(self) -> tuple[int, int]:
        info = self.path.stat()
        return info.st_size, info.st_mtime_ns

    def check_unchanged(self) -> None:
        """A `ValueError` if the file was replaced or modified since it was opened and checked."""
        if not self.path.is_file() or self._identity() != self._stamp:
            raise ValueError(f"{self.what} file {self.path} changed since it was opened; open it again")

    # --- the descriptor: opened lazily, never pickled -----------------------------------------------
    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()

    def __getstate__(self) -> dict:
        state = {**self.__dict__, "_fd": None}
        state.update(_cache=None, _cache_first=0, _cache_stop=0, _run_block=-1, _run_rows=0)
        return state

    @property
    def n(self) -> int:
        return self.shape[0]

    def memmap(self) -> np.memmap:
        """The whole array as a read-only `np.memmap` (pages it touches count as resident memory)."""
        return np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape, order="C")

    # --- reads ----------------------------------------------------------------------------------------
    def _pread(self, view: memoryview, position: int) -> None:
        fd, done = self._descriptor(), 0
        while done < len(view):  # regular files return short reads only at the end, but be exact anyway
            got = os.preadv(fd, [view[done:]], position + done)
            if got <= 0:
                raise ValueError(f"{self.what} file {self.path} ended early (was it truncated after opening?)")
            done += got

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows `start:stop` (into `out` when given: a C-contiguous array of the right shape and dtype)."""
        if out is None:
            out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        if stop > start:
            self._pread(memoryview(out).cast("B"), self.offset + start * self.row_bytes)
        return out

    def gather(self, idx: np.ndarray) -> np.ndarray:
        """Rows at the (valid, non-empty) integer indices `idx`, in that order (a new array)."""
        m = len(idx)
        if m == 1:
            lo = last = int(idx[0])
        else:
            lo, last = int(idx.min()), int(idx.max())
        if self._cache_first <= lo and last < self._cache_stop:  # a cached block holds them all
            if m == 1:
                return self._cache[lo - self._cache_first : lo - self._cache_first + 1].copy()
            return np.take(self._cache, idx - self._cache_first, axis=0)
        if self.cache_rows:
            block = lo // self.cache_rows
            if block == last // self.cache_rows:
                self._run_rows = self._run_rows + m if block == self._run_block else m
                self._run_block = block
                if self._run_rows >= _CACHE_AFTER:
                    self._load_cache(block)
                    return self.gather(idx)
            else:
                self._run_block = -1
        out = np.empty((m, *self.shape[1:]), dtype=self.dtype)
        if m == 1:  # the per-sample path: one read, no more Python than needed
            fd = self._fd if self._fd is not None else self._descriptor()
            if os.preadv(fd, [out], self.offset + lo * self.row_bytes) != self.row_bytes:
                self._pread(memoryview(out).cast("B"), self.offset + lo * self.row_bytes)
            return out
        hi = last + 1
        if hi - lo <= _SPAN_FACTOR * m:  # dense enough: one read of the span beats one read per row
            np.take(self.read(lo, hi), idx - lo, axis=0, out=out)
            return out
        raw, size, base = memoryview(out).cast("B"), self.row_bytes, self.offset
        for k, i in enumerate(idx.tolist()):
            self._pread(raw[k * size : (k + 1) * size], base + i * size)
        return out

    def _load_cache(self, block: int) -> None:
        """Read block `block` (of `cache_rows` rows) into the cache, replacing the one held."""
        first = block * self.cache_rows
        stop = min(first + self.cache_rows, self.n)
        if self._cache is None:
            self._cache = np.empty((self.cache_rows, *self.shape[1:]), dtype=self.dtype)
        self._cache_stop = 0  # invalid while being overwritten (a failed read leaves it empty)
        self.read(first, stop, out=self._cache[: stop - first])
        self._cache_first, self._cache_stop = first, stop

    def blocks(self, block_rows: int, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """`(first_row, rows)` for consecutive blocks of `block_rows` rows. Each block is a view into a
        buffer that is overwritten once the iteration moves on: use it (or copy it) before advancing. The next
        block is read in the background while the current one is in use."""
        stop = self.n if stop is None else stop
        firsts = range(start, stop, block_rows)
        if len(firsts) <= 1:
            for first in firsts:
                yield first, self.read(first, min(first + block_rows, stop))
            return
        # Two buffers: a thread reads the next block (the read releases the GIL) while this one is in use.
        buffers = [np.empty((block_rows, *self.shape[1:]), dtype=self.dtype) for _ in range(2)]

        def load(k: int) -> np.ndarray:
            first = firsts[k]
            last = min(first + block_rows, stop)
            return self.read(first, last, out=buffers[k % 2][: last - first])

        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(load, 0)
            for k, first in enumerate(firsts):
                block = pending.result()
                if k + 1 < len(firsts):
                    pending = pool.submit(load, k + 1)
                yield first, block


class NpyWriter:
    """Write a dataset as two `.npy` files, `A` (n × dim) and `y` (n), one row block at a time.

    `y` is stored as float64 for real targets and int64 for integer labels, as
    [`Dataset`][sgdlab.data.Dataset] holds it. Blocks are checked as they arrive (shapes, NaN/Inf). The files
    are written under temporary names and renamed when the writer closes without error, with the row count
    patched into their headers; on an error (or `abort()`) nothing is left behind. Use it as a context
    manager; [`load_npy`][sgdlab.data.load_npy] or [`Dataset.from_npy`][sgdlab.data.Dataset.from_npy] read
    the files back.

    Args:
        A_path: The design matrix's file.
        y_path: The targets' file (not the same as `A_path`).
        dtype: The dtype of `A` on disk, float32 or float64 (default: the first block's, if float32 or
            float64, else float64).

    Raises:
        ValueError: One path for both files, or `dtype` not a float type.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from sgdlab.data import NpyWriter, load_npy
        >>> folder = Path(tempfile.mkdtemp())
        >>> with NpyWriter(folder / "A.npy", folder / "y.npy", dtype=np.float32) as writer:
        ...     for start in range(0, 1000, 250):
        ...         writer.append(np.ones((250, 3)), np.arange(start, start + 250) % 2)
        >>> data = load_npy(folder / "A.npy", folder / "y.npy", mmap=True)
        >>> data.n, data.dim, data.dtype, data.targets(slice(0, 4)).tolist()
        (1000, 3, dtype('float32'), [0, 1, 0, 1])
    """

    def __init__(
        self,
        A_path: str | os.PathLike,
        y_path: str | os.PathLike,
        dtype: type | np.dtype | None = None,
    ) -> None:
        self.A_path, self.y_path = Path(A_path), Path(y_path)
        if self.A_path.resolve() == self.y_path.resolve():
            raise ValueError(f"A and y need two different files, got {self.A_path} for both")
        if dtype is not None and np.dtype(dtype).type not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        self.dtype: np.dtype | None = None if dtype is None else np.dtype(dtype)
        self.y_dtype: np.dtype | None = None
        self.dim: int | None = None
        self.n = 0
        self._files: list = []
        self._closed = False

    def _partial(self, path: Path) -> Path:
        return path.with_name(path.name + ".partial")

    def _open(self, A: np.ndarray, y: np.ndarray) -> None:
        if self.dtype is None:
            self.dtype = A.dtype if A.dtype.type in (np.float32, np.float64) else np.dtype(np.float64)
        self.y_dtype = np.dtype(np.float64 if y.dtype.kind == "f" else np.int64)
        self.dim = A.shape[1]
        for path in (self.A_path, self.y_path):
            path.parent.mkdir(parents=True, exist_ok=True)
            f = open(self._partial(path), "wb")  # noqa: SIM115 (closed by close or abort)
            self._files.append(f)
            f.write(b"\0" * _HEADER_BYTES)  # the header is written at close, once n is known

    def append(self, A: np.ndarray, y: np.ndarray) -> None:
        """Append the rows of `A` (m × dim) with their targets `y` (m).

        Raises:
            ValueError: The writer is closed, the shapes do not fit (or differ from earlier blocks'), or a
                value is NaN/Inf.
            TypeError: Values that are not real numbers, or integer targets after real ones (or the reverse).
        """
        if self._closed:
            raise ValueError("this NpyWriter is closed")
        A, y = np.asarray(A), np.asarray(y)
        if A.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
            raise TypeError(f"A and y must hold real numbers, got dtypes {A.dtype} and {y.dtype}")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if A.ndim != 2 or y.ndim != 1:
            raise ValueError(f"A blocks must be 2-D and y blocks 1-D, got shapes {A.shape} and {y.shape}")
        if A.shape[0] != y.shape[0]:
            raise ValueError(f"shape mismatch: the A block has {A.shape[0]} rows but the y block {y.shape[0]}")
        if self.dim is None:
            if A.shape[1] == 0:
                raise ValueError("A blocks need at least one column")
            self._open(A, y)
        elif A.shape[1] != self.dim:
            raise ValueError(f"A blocks must all have {self.dim} columns, got {A.shape[1]}")
        elif (y.dtype.kind == "f") != (self.y_dtype.kind == "f"):
            raise TypeError(f"y blocks must all be real or all be integer; this one is {y.dtype}")
        if not np.isfinite(A).all():
            r, c = np.argwhere(~np.isfinite(A))[0]
            raise ValueError(f"A contains NaN or Inf (at row {self.n + r}, column {c})")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"y contains NaN or Inf (at index {self.n + int(np.argmax(~np.isfinite(y)))})")
        self._files[0].write(memoryview(np.ascontiguousarray(A, dtype=self.dtype)).cast("B"))
        self._files[1].write(memoryview(np.ascontiguousarray(y, dtype=self.y_dtype)).cast("B"))
        self.n += A.shape[0]

    def close(self) -> None:
        """Write the headers and move the files into place (an error if no rows were written)."""
        if self._closed:
            return
        if self.n == 0:
            self.abort()
            raise ValueError("no rows were written: a dataset needs at least one sample")
        self._closed = True
        shapes = ((self.n, self.dim), (self.n,))
        for f, dtype, shape in zip(self._files, (self.dtype, self.y_dtype), shapes, strict=True):
            f.seek(0)
            f.write(_header(dtype, shape))
            f.close()
        os.replace(self._partial(self.A_path), self.A_path)
        os.replace(self._partial(self.y_path), self.y_path)

    def abort(self) -> None:
        """Close and delete the partial files."""
        self._closed = True
        for f, path in zip(self._files, (self.A_path, self.y_path), strict=False):  # no files before the first block
            f.close()
            self._partial(path).unlink(missing_ok=True)

    def __enter__(self) -> NpyWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_npy(
    A_path: str | os.PathLike,
    y_path: str | os.PathLike,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    dtype: type | np.dtype | None = None,
) -> int:
    """Write the `(A_block, y_block)` pairs of `chunks` to two `.npy` files (see
    [`NpyWriter`][sgdlab.data.NpyWriter]); only one block is in memory at a time if `chunks` is a generator.

    Args:
        A_path: The design matrix's file.
        y_path: The targets' file.
        chunks: `(A_block, y_block)` pairs, each `A_block` m × dim and `y_block` of length m.
        dtype: The dtype of `A` on disk (see `NpyWriter`).

    Returns:
        The number of rows written.

    Raises:
        ValueError: No rows, or a block that does not fit (see `NpyWriter.append`).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from sgdlab.data import write_npy
        >>> folder = Path(tempfile.mkdtemp())
        >>> chunks = ((np.full((100, 2), i, dtype=float), np.full(100, float(i))) for i in range(5))
        >>> write_npy(folder / "A.npy", folder / "y.npy", chunks)
        500
    """
    with NpyWriter(A_path, y_path, dtype=dtype) as writer:
        for A, y in chunks:
            writer.append(A, y)
    return writer.n


def target_values(y: np.ndarray) -> np.ndarray:
    """Targets as [`Dataset`][sgdlab.data.Dataset] holds them: float64 for real values, int64 for integers and
    booleans."""
    return y.astype(np.float64 if y.dtype.kind == "f" else np.int64, copy=False)


class OutOfCoreStorage:
    """The files behind a memory-mapped [`Dataset`][sgdlab.data.Dataset]: `A` and `y` as `NpyArray`, the block size,
    and what one validating pass learnt (the distinct labels, when they are few)."""

    #: Label sets larger than this are not collected (regression targets, not class labels).
    MAX_LABELS = 65_536

    def __init__(self, A_path: str | os.PathLike, y_path: str | os.PathLike, block_rows: int | None = None):
        self.A = NpyArray(A_path, "design matrix")
        self.y = NpyArray(y_path, "targets")
        if self.y.shape[1:] == (1,):  # a column vector is a vector
            self.y.shape, self.y.row_bytes = self.y.shape[:1], self.y.dtype.itemsize
        if len(self.A.shape) != 2:
            raise ValueError(f"A must be 2-D (n samples × dim features), got shape {self.A.shape}")
        if self.A.dtype.type not in (np.float32, np.float64):
            raise ValueError(
                f"a memory-mapped A must be float32 or float64 on disk, got {self.A.dtype}; "
                "convert the file, or load it into memory (mmap=False)"
            )
        if len(self.y.shape) != 1:
            raise ValueError(f"y must be 1-D, got shape {self.y.shape}")
        n, dim = self.A.shape
        if n == 0 or dim == 0:
            raise ValueError(f"A is empty (shape {self.A.shape}): need at least one sample and one feature")
        if self.y.n != n:
            raise ValueError(f"shape mismatch: A has {n} rows but y has {self.y.n} entries")
        if block_rows is None:
            block_rows = default_block_rows(self.A.row_bytes)
        if isinstance(block_rows, bool) or not isinstance(block_rows, int | np.integer) or block_rows < 1:
            raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
        self.block_rows = int(block_rows)
        self.A.cache_rows = self.y.cache_rows = self.block_rows  # the "blocks" sampler's blocks
        self.labels: np.ndarray | None = None

    def validate(self) -> None:
        """One pass over both files: NaN/Inf in `A` or real `y` is a `ValueError` naming its position."""
        labels: np.ndarray | None = np.empty(0, dtype=target_values(np.empty(0, self.y.dtype)).dtype)
        for (first, A), (_, y) in zip(self.A.blocks(self.block_rows), self.y.blocks(self.block_rows), strict=True):
            if not np.isfinite(A).all():
                r, c = np.argwhere(~np.isfinite(A))[0]
                raise ValueError(f"A contains NaN or Inf (at row {first + r}, column {c})")
            if y.dtype.kind == "f" and not np.isfinite(y).all():
                raise ValueError(f"y contains NaN or Inf (at index {first + int(np.argmax(~np.isfinite(y)))})")
            if y.dtype.kind == "u" and y.size and y.max() > np.iinfo(np.int64).max:  # would wrap in int64
                raise ValueError(f"y holds unsigned integers up to {y.max()}, beyond int64: labels must be below 2**63")
            if labels is not None:
                labels = np.union1d(labels, target_values(y))
                if labels.size > self.MAX_LABELS:
                    labels = None
        self.labels = labels

    def blocks(self, block_rows: int | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """`(first_row, A_rows, y_rows)` block by block (`y` as `target_values`)."""
        size = block_rows or self.block_rows
        for (first, A), (_, y) in zip(self.A.blocks(size), self.y.blocks(size), strict=True):
            yield first, A, target_values(y)


class EncodedTargets:
    """The targets of an out-of-core dataset as a problem encodes them (±1, class indices, reals), read from
    disk and encoded only for the rows asked for: `targets[idx]`, `targets[start:stop]`."""

    def __init__(self, data, encode) -> None:
        self.data, self.encode = data, encode
        # the encoding of the block the reader holds in its cache, made once per cached block: rows served from
        # it cost an index, not a read and an encoding each
        self._block: np.ndarray | None = None
        self._first, self._stop = 0, 0

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, np.ndarray) and key.size:
            if key.size == 1:
                lo = last = int(key[0])
            else:
                lo, last = int(key.min()), int(key.max())
            if self._first <= lo and last < self._stop:
                if key.size == 1:
                    return self._block[lo - self._first : lo - self._first + 1].copy()
                return self._block[key - self._first]
            values = self.encode(self.data.targets(key))
            reader = self.data._storage.y
            if reader._cache_stop > reader._cache_first and reader._cache_first <= lo and last < reader._cache_stop:
                self._stop = 0  # invalid until encoded
                self._block = self.encode(target_values(reader._cache[: reader._cache_stop - reader._cache_first]))
                self._first, self._stop = reader._cache_first, reader._cache_stop
            return values
        return self.encode(self.data.targets(key))

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_block": None, "_first": 0, "_stop": 0}

    def __len__(self) -> int:
        return self.data.n

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """All targets at once, for code that needs the whole vector (its memory grows with n)."""
        whole = np.concatenate([self.encode(y) for _, _, y in self.data.blocks()])
        return whole if dtype is None else whole.astype(dtype)


class BlockOperator:
    """`A` of a dataset as a linear operator applied block by block: `op @ v`, `op.T @ u` and the Gram
    matrix `op.T @ op` (accumulated in float64), for code written against a matrix (spectra)."""

    def __init__(self, data, transposed: bool = False) -> None:
        self.data, self.transposed = data, transposed
        self.shape = (data.dim, data.n) if transposed else (data.n, data.dim)
        self.dtype = data.dtype

    @property
    def T(self) -> BlockOperator:
        return BlockOperator(self.data, not self.transposed)

    def __matmul__(self, other):
        if isinstance(other, BlockOperator):
            if not (self.transposed and not other.transposed and other.data is self.data):
                raise NotImplementedError("only the Gram matrix A.T @ A of one dataset is supported")
            gram = np.zeros((self.data.dim, self.data.dim))
            for _, A, _ in self.data.blocks():
                A = A.astype(np.float64)
                gram += A.T @ A
            return gram
        if self.transposed:
            return sum(A.T @ other[first : first + A.shape[0]] for first, A, _ in self.data.blocks())
        return np.concatenate([A @ other for _, A, _ in self.data.blocks()])
