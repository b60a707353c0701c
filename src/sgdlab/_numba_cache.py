"""numba's on-disk cache for sgdlab's kernels, out of date as soon as any of sgdlab's source is.

numba stamps a cached function with its own source file only (its docs, "Cache limitations": changes to symbols
defined in another file are not recognised, and global variables are frozen as constants). A kernel that calls or
inlines a function of another module (the tiles of `engine.kernels.tiles`, the update loops of `methods.fused`)
or reads a constant defined elsewhere would be served as compiled around the old code after that code changed —
a fix would take effect only once the caller's own file changed too, and a cache that outlives an upgrade would
keep such entries. `njit` stamps each entry with its file's stamp and `source_digest()`, a digest of every module
of the package: any change to sgdlab's source compiles each kernel once more, and numba then overwrites the
entries it replaced (one index per function, not one more entry per version).

numba's files are pickles, trusted as the code beside them is; `CheckedCacheFile` appends a SHA-256 to each, so
that a damaged one (cut short, a flipped bit, emptied, or not a regular file) reads as absent: the function is
compiled again and its files rewritten, instead of every later call failing inside `pickle` or running corrupted
machine code.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
from numba.core.caching import FunctionCache, IndexDataCacheFile

PACKAGE = Path(__file__).resolve().parent


@functools.cache
def source_digest() -> str:
    """SHA-256 of every `.py` file of the sgdlab package (relative path and bytes, in path order); computed
    once per process."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


_CHECKSUM = 32  # bytes of a SHA-256 digest


def _verified(path: str) -> bytes:
    """The contents of the regular file `path` without their trailing SHA-256, which must match them; `OSError`
    otherwise (a missing file included)."""
    if not os.path.isfile(path):  # a directory or FIFO in a cache file's place is never opened
        raise FileNotFoundError(path)
    with open(path, "rb") as f:
        data = f.read()
    body, checksum = data[:-_CHECKSUM], data[-_CHECKSUM:]
    if len(data) <= _CHECKSUM or hashlib.sha256(body).digest() != checksum:
        raise OSError(f"{path}: damaged numba cache file")
    return body


class CheckedCacheFile(IndexDataCacheFile):
    """numba's index (`.nbi`) and data (`.nbc`) files, each pickle followed by its SHA-256; a file that fails the
    check, or whose verified pickle cannot be read, counts as absent (an empty index, a missing entry)."""

    def _dump(self, obj: Any) -> bytes:
        data = super()._dump(obj)
        return data + hashlib.sha256(data).digest()

    def _load_index(self) -> dict:
        try:
            body = _verified(self._index_path)
            version, stamp, overloads = pickle.loads(body)
        except Exception:  # absent, damaged, or another layout: the index is rebuilt
            return {}
        return overloads if (version, stamp) == (self._version, self._source_stamp) else {}

    def _save_index(self, overloads: dict) -> None:
        with self._open_for_write(self._index_path) as f:
            f.write(self._dump((self._version, self._source_stamp, overloads)))

    def _load_data(self, name: str) -> Any:
        path = self._data_path(name)
        body = _verified(path)
        try:
            return pickle.loads(body)
        except Exception as error:
            raise OSError(f"{path}: unreadable numba cache entry ({error})") from error  # `load`: a missing entry


class PackageStampedCache(FunctionCache):
    """numba's cache of one function, its stamp being `(numba's stamp of the function's file, source_digest())`:
    an index written under another stamp is discarded on load, as numba does when the file itself changes. An
    entry that cannot be loaded is compiled again; one that cannot be saved (a cache file's place taken by a
    directory) leaves the function compiled for this process only."""

    def __init__(self, py_func: Callable) -> None:
        super().__init__(py_func)
        stamp = (self._cache_file._source_stamp, source_digest())  # numba's stamp, as its own file holds it
        self._cache_file = CheckedCacheFile(self.cache_path, self._impl.filename_base, stamp)

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        try:
            return super().load_overload(sig, target_context)
        except Exception:  # e.g. an entry of a verified file that numba cannot rebuild
            return None

    def save_overload(self, sig: Any, data: Any) -> None:
        with contextlib.suppress(OSError):
            super().save_overload(sig, data)


def njit(**options: Any) -> Callable[[Callable], Any]:
    """`numba.njit(cache=True, **options)` as a decorator, with `PackageStampedCache` as the cache."""
    if "cache" in options:
        raise TypeError("njit caches on disk always; `cache` is not an option")

    def compile_lazily(fn: Callable) -> Any:
        dispatcher = numba.njit(**options)(fn)
        dispatcher._cache = PackageStampedCache(dispatcher.py_func)  # what `enable_caching` sets, stamped
        return dispatcher

    return compile_lazily
