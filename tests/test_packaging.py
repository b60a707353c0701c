"""Set-up promises: the README's test command is what CI runs, the core needs no torch, the CLI works."""

from __future__ import annotations

import ast
import graphlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sgdlab.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README must open with a bash block of set-up commands"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_gives_two_setup_commands_and_ci_runs_the_test_one():
    commands = _readme_commands()
    assert len(commands) == 2
    main_job, test_command = commands
    assert "sgdlab" in main_job and "pip install" in main_job
    assert "pytest" in test_command and "ruff check" in test_command
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_the_numpy_core_imports_without_torch():
    code = "import sys; sys.modules['torch'] = None; import sgdlab, sgdlab.methods, sgdlab.engine; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_cli_help_and_methods():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "demo" in result.output
    result = runner.invoke(main, ["methods"])
    assert result.exit_code == 0
    assert all(name in result.output for name in ("SGD", "Adam", "SVRG", "Adadelta"))


def test_cli_demo_runs_and_reports_each_method():
    result = CliRunner().invoke(
        main, ["demo", "--n", "300", "--dim", "5", "--epochs", "2", "--method", "SGD", "--method", "SAGA"]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.startswith(("SGD", "SAGA"))]
    assert [row[0] for row in rows] == ["SGD", "SAGA"]
    assert all(float(row[2]) >= 0 for row in rows)


def test_cli_rejects_bad_options_with_a_message():
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "--method", "Adamax", "--n", "50"])
    assert result.exit_code == 2 and "unknown method" in result.output
    result = runner.invoke(main, ["demo", "--epochs", "0"])
    assert result.exit_code == 2 and "epochs" in result.output


def test_reliability_names_only_tests_that_exist_and_states_the_catalogues_size():
    from test_bad_input import CATALOGUE

    text = (ROOT / "RELIABILITY.md").read_text()
    sources = "".join(path.read_text() for path in (ROOT / "tests").glob("*.py"))
    named = set(re.findall(r"`(test_\w+)`", text))
    assert len(named) > 40 and not [name for name in named if not re.search(rf"def {name}\b", sources)]
    assert all((ROOT / path).is_file() for path in re.findall(r"`(tests/[\w/]+\.py)`", text))
    assert int(re.search(r"a catalogue of (\d+) cases", text).group(1)) == len(CATALOGUE)
    assert f"a {len(CATALOGUE)}-case catalogue" in " ".join((ROOT / "README.md").read_text().split())


def _imports(src: Path) -> dict[str, set[str]]:
    """Every module of ``src`` → the modules it imports, deferred and type-checking imports included (an import
    of a name resolves to the module that defines it: the submodule if there is one, else the package)."""
    files = {}
    for file in src.rglob("*.py"):
        parts = file.relative_to(src).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    graph: dict[str, set[str]] = {}
    for module, file in files.items():
        package = module if file.name == "__init__.py" else module.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(
                        [*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])]
                    )
                targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names)
        graph[module] = set()
        for target in targets:
            while target and target not in files:
                target = target.rpartition(".")[0]
            if target and target != module:
                graph[module].add(target)
    return graph


def test_no_two_modules_import_each_other_even_through_others_or_deferred():
    graph = _imports(Path(__file__).parents[1] / "src")
    assert "sgdlab.engine.loop" in graph["sgdlab.engine"]  # the scan sees the package's imports
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")


def test_the_readmes_measured_figures_are_the_benchmark_results():
    """README.md's benchmark figures are rendered from ``benchmarks/results/*.json`` (``benchmarks/readme.py``):
    a figure edited by hand, or a results file refreshed without re-rendering, fails here."""
    readme = _bench_module("readme")
    text = (ROOT / "README.md").read_text()
    assert set(readme.blocks(text)) == set(readme.BLOCKS)  # every block is in the README, and only those
    rendered = readme.render(text)
    for name, body in readme.blocks(rendered).items():
        assert readme.blocks(text)[name] == body, f"README block {name!r} is stale: run python benchmarks/readme.py"


def _bench_module(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
