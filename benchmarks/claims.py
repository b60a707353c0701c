"""What a full reproduction measured, claim by claim: the README's tables of claims are rendered from it.

    python benchmarks/claims.py DIR      # DIR: the --out folder of a full `sgdlab reproduce`

Each claim's verdict is computed again from `DIR/results.db` — the same `judge` the report calls, on the
stored runs of the full (not `--quick`) experiments, so a quick folder is refused — and its checks and tables
are written to benchmarks/results/claims.json. `b6_reproduce.py` calls this on its full reproduction, so
re-running B6 refreshes it; `benchmarks/readme.py` renders README.md's claim tables from it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "claims.json"


def _plain(value):
    """A table cell as JSON holds it (NumPy scalars as Python numbers, NaN and infinities as text)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _records(frame) -> list[dict]:
    """A table's rows, its index (the method's name, in some) as a first column when it says something."""
    import pandas as pd

    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index(names=frame.index.name or "row")
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def verdicts(folder: str | Path) -> list[dict]:
    """Every claim's verdict judged from `folder/results.db` (a full reproduction's runs) as plain data."""
    from sgdlab.experiments import Store, parse_spec
    from sgdlab.lecture import CLAIMS
    from sgdlab.lecture.results import collect

    path = Path(folder) / "results.db"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass the --out folder of a full `sgdlab reproduce`")
    out = []
    with Store(path) as store:
        for claim in CLAIMS:
            specs = [parse_spec(doc) for doc in claim.experiments(quick=False)]
            try:
                results = {spec.name: collect(spec, store) for spec in specs}
            except LookupError as exc:
                raise LookupError(f"{folder} holds no full reproduction of {claim.key!r} ({exc}); "
                                  "run `sgdlab reproduce --out DIR` without --quick") from None  # fmt: skip
            verdict = claim.judge(results)
            out.append({
                "key": claim.key, "title": claim.title, "passed": verdict.passed,
                "checks": [{"name": c.name, "expected": c.expected, "measured": c.measured, "passed": c.passed}
                           for c in verdict.checks],
                "table": _records(verdict.table) if verdict.table is not None else [],
                "extra_tables": [{"caption": caption, "rows": _records(t)} for caption, t in verdict.extra_tables],
                "notes": verdict.notes,
                "budgets": {spec.name: spec.budget.model_dump(exclude_none=True) for spec in specs},
            })  # fmt: skip
    return out


def write(folder: str | Path, out: Path = RESULTS) -> Path:
    """Write `out` (benchmarks/results/claims.json) from the full reproduction in `folder`."""
    sys.path.insert(0, str(HERE))
    from harness import machine

    claims = verdicts(folder)
    out.write_text(
        json.dumps(
            {
                "benchmark": "the claims' measurements of a full `sgdlab reproduce`",
                "machine": machine(),
                "claims": claims,
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="the --out folder of a full `sgdlab reproduce`")
    args = parser.parse_args()
    print(write(args.folder))


if __name__ == "__main__":
    main()
