"""MkDocs hooks: the pages that are generated from the code, so they cannot drift from it.

A page asks for a generated block with a marker comment on a line of its own, e.g.
``<!-- sgdlab:lecture-claims -->``; :func:`on_page_markdown` replaces it. A marker that is unknown, or a
source that cannot be read, logs a warning, which fails ``mkdocs build --strict``.

Blocks:

* ``lecture-claims`` — every claim of ``sgdlab.lecture.CLAIMS``: key, title, statement, the experiments it
  runs, and what to look at (the last from :data:`LOOK_AT` below, checked against the registry both ways);
* ``readme-table:<first header cell>`` — a table copied from README.md (the measured complexity table);
* ``spec-reference`` — every field of the experiment file, from the pydantic models in
  ``sgdlab.experiments.spec``;
* ``method-defaults`` — every method's hyperparameters and defaults, from the method dataclasses;
* ``benchmarks`` — the benchmark table, from ``benchmarks/run_all.py``'s ``rows()`` over
  ``benchmarks/results/*.json``.

Tutorials (``docs/tutorials/*.py``, jupytext percent scripts) are executed by mkdocs-jupyter; this module
gives each notebook cell a timeout (:data:`CELL_TIMEOUT_S`), measures each notebook's conversion time
(logged, and written as JSON to ``$SGDLAB_DOCS_TIMINGS`` when that is set), and removes the empty
``<script src="">`` that nbconvert's MathJax block leaves when no MathJax URL is configured (the site loads
no MathJax: formulas are Unicode, as in the README).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import json
import logging
import math
import os
import re
import time
import typing
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.sgdlab")

ROOT = Path(__file__).resolve().parent.parent
#: Per-cell execution timeout of the tutorials, in seconds (a hanging cell fails the build).
CELL_TIMEOUT_S = 120

MARKER = re.compile(r"^<!-- sgdlab:([a-z-]+)(?::([^>]*?))? -->$", re.MULTILINE)

#: What to look at in each claim's report section (sgdlab reproduce). Keys must match CLAIMS exactly.
LOOK_AT = {
    "complexity": "The table: for each assumption (PL, convex, nonconvex) GD's and SGD's measured rate beside "
    "the theory's bound; a cell passes when the measured decay is at least as fast (within 0.15).",
    "sgd-vs-gd": "The convergence plot against gradient evaluations: SGD's early lead, and the accuracy at "
    "which GD's linear rate overtakes it; the per-iteration cost ratio (1 vs n component gradients).",
    "noise-floor": "The floors of constant-step SGD against α and against the batch size b (log–log slopes near "
    "+1 and −1), the noiseless problem (σ²* = 0) going to zero, and the 1/k schedule going below the floor.",
    "variance-reduction": "Per-epoch contraction factors of SAG, SAGA and SVRG (linear rates, down to ~1e-13) "
    "against constant-step SGD stalling at its floor.",
    "bottleneck": "Two regimes: ill-conditioned with little noise (momentum and stochastic L-BFGS need far "
    "fewer iterations) and noise-dominated with α_k ~ 1/k (all three have the same slope).",
    "adaptive": "The tuned SGD/Adagrad final-gap ratio with power-law vs uniform feature frequencies, and "
    "Adadelta's default settings reducing the gap on problems whose L spans many orders of magnitude.",
    "adagrad-decay": "The distance travelled on linear losses: about √k for Adagrad, about k for RMSProp and "
    "Adam.",
    "adam-counterexample": "Where Adam and AMSGrad end on Reddi et al.'s problem: Adam near x = +1 (the worst "
    "point), AMSGrad near x* ≈ −1.",
    "weight-decay": "The distances of Adam + L2 and AdamW to the ridge minimiser, and of AdamW to the box "
    "minimiser ‖x‖∞ ≤ 1/λ.",
    "networks": "The training-loss gap SGD − Adam on the character LSTM against the digits CNN.",
    "heavy-tail": "How far the rare classes lag the frequent ones under SGD and Adam, Zipf against uniform "
    "classes, and Adam's training-loss gap over SGD.",
}


# ----------------------------------------------------------------------------------------------------------
# generated blocks


def _md(text: str) -> str:
    """Plain text for Markdown: ``x*`` and ``σ²*/b`` must not start emphasis, ``|`` must not split a table cell."""
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text).replace("<", "&lt;")


def _lecture_claims() -> str:
    from sgdlab.lecture import CLAIMS

    keys = [c.key for c in CLAIMS]
    for key in keys:
        if key not in LOOK_AT:
            log.warning("docs/hooks.py: claim %r has no entry in LOOK_AT; say what to look at", key)
    for key in LOOK_AT:
        if key not in keys:
            log.warning("docs/hooks.py: LOOK_AT names %r, which is not a claim of sgdlab.lecture.CLAIMS", key)
    out = ["| key | claim |", "|---|---|"]
    out += [f"| [`{c.key}`](#{c.key}) | {_md(c.title)} |" for c in CLAIMS]
    out.append("")
    for claim in CLAIMS:
        module = type(claim).__module__
        out += [
            f"### {_md(claim.title)} {{ #{claim.key} }}",
            "",
            f"**Key** `{claim.key}` · `sgdlab reproduce --claim {claim.key}` · defined in "
            f"`{module}.{type(claim).__name__}`",
            "",
            f"> {_md(claim.statement)}",
            "",
            f"**What to look at.** {LOOK_AT.get(claim.key, '')}",
            "",
            "**Experiments** (full run; `--quick` runs smaller versions of the same):",
            "",
            "| experiment | problems | methods | seeds |",
            "|---|---|---|---|",
        ]
        for doc in claim.experiments(quick=False):
            problems = ", ".join(sorted({p["type"] for p in doc["problems"]}))
            methods = ", ".join(dict.fromkeys(m.get("name", m["type"]) for m in doc["methods"]))
            seeds = doc.get("seeds", 1)
            seeds = len(seeds) if isinstance(seeds, list) else seeds
            out.append(f"| `{doc['name']}` | {problems} | {methods} | {seeds} |")
        out.append("")
    return "\n".join(out)


def _readme_table(first_header: str) -> str:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |")), None)
    if start is None:
        log.warning("docs/hooks.py: README.md has no table whose first header cell is %r", first_header)
        return ""
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[start:end])


def _type_text(annotation) -> str:
    """A readable type for a table cell (no `|`, which would split the cell): `int or list of int`,
    `one of "uniform", "reshuffle"`, `table`."""
    from pydantic import BaseModel

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "none"
    if origin is typing.Annotated:
        return _type_text(args[0])
    if origin is typing.Literal:
        return ("one of " if len(args) > 1 else "") + ", ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " or ".join(_type_text(a) for a in args if a is not type(None)) + (
            " (optional)" if type(None) in args else ""
        )
    if origin is list:
        return f"list of {_type_text(args[0])}" if args else "list"
    if origin is dict:
        return "table"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{_table_name(annotation)}](#{_anchor(annotation)})"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(field) -> str:
    parts = []
    for item in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"), ("min_length", "length ≥")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{sign} {value:g}" if isinstance(value, float) else f"{sign} {value}")
        if getattr(item, "allow_inf_nan", None) is False:
            parts.append("finite")

    def walk(annotation):
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            for item in args[1:]:
                for sub in getattr(item, "metadata", [item]):
                    for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
                        value = getattr(sub, attr, None)
                        if value is not None:
                            parts.append(f"{sign} {value:g}")
            walk(args[0])
        else:
            for arg in args:
                walk(arg)

    walk(field.annotation)
    return ", ".join(dict.fromkeys(parts))


_TABLES = {
    "Spec": "top level",
    "BudgetSpec": "[budget]",
    "RecordSpec": "[record]",
    "ProblemSpec": "[[problems]]",
    "DataSpec": "problems.data",
    "MethodSpec": "[[methods]]",
    "TuneSpec": "methods.tune",
}


def _table_name(model) -> str:
    return _TABLES.get(model.__name__, model.__name__)


def _anchor(model) -> str:
    return "spec-" + model.__name__.lower()


def _field_comments(model) -> dict[str, str]:
    """The ``#:`` comments written above fields in the model's source."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    out = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above, i = [], node.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#:"):
                above.insert(0, lines[i].strip()[2:].strip())
                i -= 1
            if above:
                out[node.target.id] = " ".join(above)
    return out


def _default_text(field) -> str:
    from pydantic_core import PydanticUndefined

    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "—"
    else:
        value = field.default
    if value is None:
        return "unset"
    if hasattr(value, "model_dump"):
        return "`" + json.dumps(value.model_dump(mode="json")) + "`"
    return "`" + json.dumps(value) + "`"


def _spec_reference() -> str:
    from sgdlab.experiments import spec as spec_module

    models = [
        spec_module.Spec,
        spec_module.BudgetSpec,
        spec_module.RecordSpec,
        spec_module.ProblemSpec,
        spec_module.DataSpec,
        spec_module.MethodSpec,
        spec_module.TuneSpec,
    ]
    # Every model reachable from Spec must be documented here.
    seen, todo = set(), [spec_module.Spec]
    while todo:
        model = todo.pop()
        seen.add(model)
        for field in model.model_fields.values():
            for sub in _models_in(field.annotation):
                if sub not in seen:
                    todo.append(sub)
    for model in seen - set(models):
        log.warning("docs/hooks.py: spec model %s is not documented in the experiment-file reference", model)
    out = []
    for model in models:
        comments = _field_comments(model)
        out += [
            f"### `{_table_name(model)}` {{ #{_anchor(model)} }}",
            "",
            "| field | type | default | constraints | notes |",
            "|---|---|---|---|---|",
        ]
        for name, field in model.model_fields.items():
            note = comments.get(name, "")
            out.append(
                f"| `{name}` | {_type_text(field.annotation)} | {_default_text(field)} | "
                f"{_constraints(field) or ''} | {note} |"
            )
        out.append("")
    out += [
        "### Allowed names",
        "",
        f"- `problems[].type`: {', '.join(f'`{t}`' for t in spec_module.PROBLEM_TYPES)}; the first five "
        f"({', '.join(f'`{t}`' for t in spec_module.DATA_PROBLEMS)}) need a `data` table, the others must not "
        "have one.",
        f"- `methods[].type`: {', '.join(f'`{t}`' for t in spec_module.METHODS)}; `params` are the method's "
        "hyperparameters (see [Methods](methods.md#defaults)), a list is a grid axis.",
        f"- `methods[].tune.metric`: {', '.join(f'`{t}`' for t in spec_module.TUNE_METRICS)}.",
        f"- `problems[].data.name` (source `bundled`): {', '.join(f'`{t}`' for t in spec_module.BUNDLED_NAMES)}.",
        "",
    ]
    return "\n".join(out)


def _models_in(annotation):
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _method_defaults() -> str:
    from sgdlab.methods import METHODS

    out = ["| method | hyperparameters (default) | unset `lr` becomes |", "|---|---|---|"]
    for name, cls in METHODS.items():
        fields = []
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                value = f.default
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                value = "required"
            text = "unset" if value is None else str(value)
            fields.append(f"`{f.name}={text}`")
        rule = _DERIVED_LR.get(name, "—")
        out.append(f"| `{name}` | {', '.join(fields)} | {rule} |")
    return "\n".join(out)


#: The derived step sizes of README's "A step size left unset…" (the methods' default_lr).
_DERIVED_LR = {
    "GD": "1/L",
    "SGD": "1/(2 L_b)",
    "Momentum": "(1−β)/(2 L_b)",
    "Nesterov": "(1−β)/(2 L_b)",
    "SAG": "1/(16 L_max)",
    "SAGA": "1/(3 L_max)",
    "SVRG": "1/(10 L_max), `inner = 2n/b`",
}


def _benchmarks() -> str:
    path = ROOT / "benchmarks" / "run_all.py"
    spec = importlib.util.spec_from_file_location("_sgdlab_run_all", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = ["| benchmark | comparison | measured | target | met |", "|---|---|---|---|---|"]
    for bench, what, value, target in module.rows():
        if math.isnan(target):
            met, shown = "—", "—"
        elif "RSS" in what:
            met, shown = ("yes" if value < target else "**no**"), f"< {target:g}"
        else:
            met, shown = ("yes" if value >= target else "**no**"), f"≥ {target:g}"
        out.append(f"| {bench} | {what} | {value:.3g} | {shown} | {met} |")
    out += ["", "Machines, as recorded in each result file:", ""]
    for result in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        data = json.loads(result.read_text())
        machine = ", ".join(f"{k} {v}" for k, v in data.get("machine", {}).items())
        load = data.get("load_average")
        extra = f"; load average {load}" if load is not None else ""
        out.append(f"- `{result.name}`: {machine}{extra}")
    return "\n".join(out)


def _spec_example() -> str:
    from sgdlab.experiments import spec as spec_module

    lines = (spec_module.__doc__ or "").splitlines()
    # the indented block after the summary line, up to the next unindented paragraph
    start = next((i for i, line in enumerate(lines) if line.startswith("    ")), None)
    if start is None:
        log.warning("docs/hooks.py: the docstring of sgdlab.experiments.spec has no indented example")
        return ""
    example = []
    for line in lines[start:]:
        if line.strip() and not line.startswith("    "):
            break
        example.append(line[4:])
    return "```toml\n" + "\n".join(example).strip() + "\n```"


def _torch_optimizers() -> str:
    """One entry per optimizer of `sgdlab.torch`, generated from the registry that builds them at import (a
    source reader cannot see them)."""
    from sgdlab.torch.optim import ALIASES, OPTIMIZERS

    out = []
    for name, optimizer in OPTIMIZERS.items():
        method = optimizer.method_class
        counterpart = method.info.torch or "none in torch.optim"
        summary = _md((method.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "))
        link = f"[`sgdlab.methods.{method.__name__}`](methods.md#sgdlab.methods.{method.__name__})"
        out += [f'<a id="sgdlab.torch.{name}"></a>', "", f"### `sgdlab.torch.{name}(params, **hyperparameters)`", "",
                f"`torch.optim.Optimizer` running {link}'s update rule; torch counterpart: `{counterpart}`. {summary}",
                ""]  # fmt: skip
    for alias, optimizer in ALIASES.items():
        out += [f'<a id="sgdlab.torch.{alias}"></a>', "", f"### `sgdlab.torch.{alias}`", "",
                f"torch.optim's spelling of [`sgdlab.torch.{optimizer.__name__}`](#sgdlab.torch.{optimizer.__name__}).",
                ""]  # fmt: skip
    return "\n".join(out)


BLOCKS = {
    "torch-optimizers": lambda arg: _torch_optimizers(),
    "spec-example": lambda arg: _spec_example(),
    "lecture-claims": lambda arg: _lecture_claims(),
    "readme-table": _readme_table,
    "spec-reference": lambda arg: _spec_reference(),
    "method-defaults": lambda arg: _method_defaults(),
    "benchmarks": lambda arg: _benchmarks(),
}


# ----------------------------------------------------------------------------------------------------------
# mkdocs events

_started: dict[str, float] = {}
TIMINGS: dict[str, float] = {}


def _is_tutorial(page) -> bool:
    return page.file.src_uri.startswith("tutorials/") and page.file.src_uri.endswith(".py")


def on_config(config):
    _limit_cell_time()
    TIMINGS.clear()
    return config


def _limit_cell_time() -> None:
    """mkdocs-jupyter exposes no timeout; give its nbconvert ExecutePreprocessor one."""
    try:
        from mkdocs_jupyter import nbconvert2
    except ImportError:  # the plugin itself reports a missing mkdocs-jupyter
        return
    original = getattr(nbconvert2.get_nbconvert_app, "__wrapped__", nbconvert2.get_nbconvert_app)

    def with_timeout(*args, **kwargs):
        app = original(*args, **kwargs)
        execute = app.config["ExecutePreprocessor"]  # a traitlets Config or, after mkdocs-jupyter's update, a dict
        execute["timeout"] = CELL_TIMEOUT_S
        execute["allow_errors"] = False
        return app

    with_timeout.__wrapped__ = original
    nbconvert2.get_nbconvert_app = with_timeout


def on_page_markdown(markdown, page, config, files):
    if _is_tutorial(page):
        _started[page.file.src_uri] = time.perf_counter()
        return markdown

    def replace(match: re.Match) -> str:
        name, arg = match.group(1), match.group(2)
        if name not in BLOCKS:
            log.warning("docs/hooks.py: %s asks for an unknown generated block %r", page.file.src_uri, name)
            return ""
        return BLOCKS[name](arg)

    return MARKER.sub(replace, markdown)


_EMPTY_SCRIPT = re.compile(r'<script src="">\s*</script>')
# nbconvert's lab template loads mermaid from a CDN when a page has mermaid diagrams; ours have none.
_MERMAID = re.compile(
    r'<script type="module">(?:(?!</script>).)*?cdnjs\.cloudflare\.com(?:(?!</script>).)*?</script>', re.DOTALL
)
_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc):(<(?:code|a)\b)")


def on_page_content(html, page, config, files):
    if _is_tutorial(page):
        started = _started.pop(page.file.src_uri, None)
        if started is not None:
            seconds = time.perf_counter() - started
            TIMINGS[page.file.src_uri] = round(seconds, 2)
            log.info("tutorial %s executed and converted in %.1f s", page.file.src_uri, seconds)
        html = _MERMAID.sub("", _EMPTY_SCRIPT.sub("", html))
    # sgdlab's docstrings cross-reference in mkdocstrings' style ([`Trace`][sgdlab.engine.Trace]: a link);
    # a Sphinx role still left in one (:class:`Trace`) would render as ":class:" before the code span: keep
    # the code.
    return _ROLE.sub(r"\1", html)


def on_post_build(config):
    target = os.environ.get("SGDLAB_DOCS_TIMINGS")
    if target:
        Path(target).write_text(json.dumps(TIMINGS, indent=1, sort_keys=True), encoding="utf-8")
