"""numba's on-disk cache for sgdlab's kernels, out of date as soon as any of sgdlab's source is.

numba stamps a cached function with its own source file only (its docs: a cached function is not recompiled
when the functions it calls change). A kernel that calls or inlines a function of another module (the tiles of
`engine.kernels.tiles`, the update loops of `methods.fused`) or reads a constant defined elsewhere would be served
as compiled around the old code after that code changed — a fix would take effect only once the caller's own file
changed too, and a cache that outlives an upgrade would keep such entries. `njit` stamps each entry with its file's
stamp and `source_digest()`, a digest of every module of the package: any change to sgdlab's source compiles
each kernel once more, and numba then overwrites the entries it replaced (one index per function, not one more
entry per version).
"""

from __future__ import annotations

import functools
import hashlib
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


class PackageStampedCache(FunctionCache):
    """numba's cache of one function, its stamp being `(numba's stamp of the function's file, source_digest())`:
    an index written under another stamp is discarded on load, as numba does when the file itself changes."""

    def __init__(self, py_func: Callable) -> None:
        super().__init__(py_func)
        stamp = (self._impl.locator.get_source_stamp(), source_digest())
        self._cache_file = IndexDataCacheFile(self.cache_path, self._impl.filename_base, stamp)


def njit(**options: Any) -> Callable[[Callable], Any]:
    """`numba.njit(cache=True, **options)` as a decorator, with `PackageStampedCache` as the cache."""
    if "cache" in options:
        raise TypeError("njit caches on disk always; `cache` is not an option")

    def compile_lazily(fn: Callable) -> Any:
        dispatcher = numba.njit(**options)(fn)
        dispatcher._cache = PackageStampedCache(dispatcher.py_func)  # what `enable_caching` sets, stamped
        return dispatcher

    return compile_lazily
