"""numba's disk cache of sgdlab's kernels goes out of date with any of sgdlab's source (`sgdlab._numba_cache`).

numba itself stamps a cached function with its own file only, so a kernel that inlines a function of another
module, or reads a constant defined there, would be served compiled around the old code. These tests change such
a module in a copy of the package and run the kernel again in fresh processes.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from numba.core.registry import CPUDispatcher

import sgdlab
from sgdlab import _numba_cache
from sgdlab._numba_cache import PackageStampedCache

PACKAGE = Path(sgdlab.__file__).resolve().parent

PROBES = {
    "_probe_constants.py": "OFFSET = 1.0\n",  # no compiled code at all: read by the helper as a constant
    "_probe_helper.py": """
        from sgdlab._numba_cache import njit
        from sgdlab._probe_constants import OFFSET

        @njit(inline="always")
        def shifted(x):
            return x + OFFSET
        """,
    "_probe_kernel.py": """
        from sgdlab._numba_cache import njit
        from sgdlab._probe_helper import shifted

        @njit()
        def doubled(x):
            return 2.0 * shifted(x)
        """,
}
RUN = (
    "import json; from sgdlab._probe_kernel import doubled; value = doubled(1.0); "
    "print(json.dumps([value, sum(doubled.stats.cache_hits.values()), sum(doubled.stats.cache_misses.values())]))"
)


def _package_copy(tmp: Path) -> tuple[Path, dict, Path]:
    """A copy of the sgdlab package (without its caches) with the probe modules, and a numba cache of its own."""
    root = tmp / "src"
    shutil.copytree(PACKAGE, root / "sgdlab", ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in PROBES.items():
        (root / "sgdlab" / name).write_text(textwrap.dedent(text))
    env = {**os.environ, "PYTHONPATH": str(root), "NUMBA_CACHE_DIR": str(tmp / "numba-cache")}
    return root / "sgdlab", env, tmp / "numba-cache"


@pytest.fixture
def package_copy(tmp_path):
    return _package_copy(tmp_path)


def _run(env) -> tuple[float, int, int]:
    done = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    value, hits, misses = json.loads(done.stdout)
    return value, hits, misses


def test_a_kernel_is_compiled_again_when_a_module_it_depends_on_changes(package_copy):
    package, env, cache = package_copy
    assert _run(env) == (4.0, 0, 1)  # compiled and stored
    assert _run(env) == (4.0, 1, 0)  # served from the disk
    constants = package / "_probe_constants.py"
    constants.write_text("OFFSET = 2.0\n")  # the kernel's own file and its helper's are unchanged
    assert _run(env) == (6.0, 0, 1)
    assert _run(env) == (6.0, 1, 0)
    (package / "_probe_helper.py").write_text((package / "_probe_helper.py").read_text().replace("+", "-"))
    assert _run(env) == (-2.0, 0, 1)
    # numba replaced the entries instead of adding one per version: one index, one compiled object
    entries = sorted(p.name.split(".", 1)[1] for p in cache.rglob("_probe_kernel.*"))
    assert [e.rsplit(".", 1)[1] for e in entries] == ["nbc", "nbi"], entries


def test_a_change_outside_the_package_leaves_its_kernels_cached(package_copy):
    package, env, _ = package_copy
    assert _run(env)[1:] == (0, 1)
    (package.parent / "notes.py").write_text("changed = True\n")  # beside the package, not in it
    (package / "README.txt").write_text("not a module\n")
    assert _run(env) == (4.0, 1, 0)


def _flip_a_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def _replace_by_a_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _replace_by_a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


DAMAGE = {
    "cut short": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "emptied": lambda path: path.write_bytes(b""),
    "one bit flipped": _flip_a_bit,
    "random bytes": lambda path: path.write_bytes(os.urandom(path.stat().st_size)),
    "a pickle of something else": lambda path: path.write_bytes(pickle.dumps({"not": "numba's"})),
    "a FIFO": _replace_by_a_fifo,
    "a directory": _replace_by_a_directory,
}


@pytest.fixture(scope="module")
def compiled_copy(tmp_path_factory):
    """A package copy whose probe kernel is compiled and cached once, for the damage cases to copy."""
    tmp = tmp_path_factory.mktemp("compiled")
    package, env, cache = _package_copy(tmp)
    assert _run(env) == (4.0, 0, 1)
    return package, env, cache


@pytest.mark.parametrize("suffix", [".nbi", ".nbc"])
@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_cache_file_is_compiled_over_not_an_error(compiled_copy, tmp_path, damage, suffix):
    _, env, cache = compiled_copy
    own = tmp_path / "numba-cache"
    shutil.copytree(cache, own)
    env = {**env, "NUMBA_CACHE_DIR": str(own)}
    (target,) = own.rglob(f"_probe_kernel.*{suffix}")
    DAMAGE[damage](target)
    assert _run(env) == (4.0, 0, 1)  # the right value, compiled again (a FIFO is never opened: no hang)
    repaired = damage != "a directory"  # nothing can be written in a directory's place: compiled every time
    assert _run(env) == ((4.0, 1, 0) if repaired else (4.0, 0, 1))


def _compiled_functions() -> list[CPUDispatcher]:
    """The compiled functions defined at the top level of sgdlab's modules (those that speak of numba)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if "numba" in text or "jit" in text:
            name = "sgdlab." + path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
            module = importlib.import_module(name.removesuffix(".__init__"))
            found.update((id(v), v) for v in vars(module).values() if isinstance(v, CPUDispatcher))
    return list(found.values())


def test_no_module_compiles_with_numbas_own_cache():
    """Every compiled function of sgdlab goes through `_numba_cache.njit`: no other module calls numba's `jit`
    decorators, so none is cached under numba's stamp alone."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_numba_cache.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            named = (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "numba"
                     and node.attr in {"jit", "njit", "generated_jit"})  # fmt: skip
            imported = (
                isinstance(node, ast.ImportFrom)
                and node.module == "numba"
                and any(alias.name in {"jit", "njit", "generated_jit"} for alias in node.names)
            )
            if named or imported:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_every_compiled_function_carries_the_package_stamp():
    compiled = _compiled_functions()
    names = {d.py_func.__module__ + "." + d.py_func.__name__ for d in compiled}
    assert len(compiled) >= 40 and "sgdlab.engine.metrics._dense_multi" in names  # the table is really there
    assert "sgdlab.methods.lbfgs._two_loop_kernel" in names and "sgdlab.torch.fast_path._view" in names
    for dispatcher in compiled:
        assert isinstance(dispatcher._cache, PackageStampedCache), dispatcher
        assert dispatcher._cache._cache_file._source_stamp[1] == _numba_cache.source_digest()


def test_the_lazily_compiled_copies_carry_the_package_stamp():
    from sgdlab.methods import fused

    serial = fused.serial(fused.adam_update)
    special = fused.specialised(fused.adam_update, (("amsgrad", "bool", True),))
    for dispatcher in (serial, special):
        assert isinstance(dispatcher._cache, PackageStampedCache)
    assert serial.py_func.__name__ != special.py_func.__name__


def test_njit_refuses_a_cache_option():
    with pytest.raises(TypeError, match="cache"):
        _numba_cache.njit(cache=False)
