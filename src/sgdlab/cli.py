"""The `sgdlab` command line."""

from __future__ import annotations

import contextlib
import math
import os
import stat
import sys
import time

import click

from sgdlab._version import __version__

#: What a database argument must be, added to every refusal of one.
_DB_EXPECTED = "expected an sgdlab results database file, e.g. results.db (as `sgdlab run --db` writes)"
_SPEC_EXPECTED = "expected an experiment spec file (TOML), e.g. experiment.toml"


class _Folder(click.ParamType):
    """A folder to write into, created here if missing — before any work, so that a path that cannot be a
    writable folder (a file, or a folder under one, or no permission) is refused in sgdlab's words up front
    instead of failing after a long run."""

    name = "folder"

    def convert(self, value, param, ctx):
        expected = "give a folder to write into (it is created if missing)"
        if os.path.exists(value) and not os.path.isdir(value):
            self.fail(f"{value} is a file; {expected}", param, ctx)
        try:
            os.makedirs(value, exist_ok=True)
        except OSError as exc:
            self.fail(f"cannot create the folder {value}: {exc.strerror}; {expected}", param, ctx)
        if not os.access(value, os.W_OK | os.X_OK):
            self.fail(f"cannot write into {value}: permission denied; {expected}", param, ctx)
        return value


class _Finite(click.FloatRange):
    """A finite number in a range: click's `FloatRange` lets `inf` and `nan` through."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value} is not a finite number; expected {self._describe_range()}", param, ctx)
        return number


class _SpecFile(click.ParamType):
    """An existing regular file (only stat-ed here: a FIFO is never opened); its content is `load_spec`'s job."""

    name = "spec"

    def convert(self, value, param, ctx):
        try:
            mode = os.stat(value).st_mode
        except FileNotFoundError:
            self.fail(f"file not found: {value}; {_SPEC_EXPECTED}", param, ctx)
        except OSError as exc:
            self.fail(f"cannot read {value}: {exc.strerror}; {_SPEC_EXPECTED}", param, ctx)
        if stat.S_ISDIR(mode):
            self.fail(f"{value} is a directory; {_SPEC_EXPECTED}", param, ctx)
        if not stat.S_ISREG(mode):
            self.fail(f"{value} is not a regular file (a FIFO, socket or device); {_SPEC_EXPECTED}", param, ctx)
        return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sgdlab")
def main() -> None:
    """sgdlab — stochastic and adaptive gradient methods on finite-sum problems."""


def _summary(doc: str) -> str:
    """A docstring's first sentence (its whole first paragraph up to the first full stop), RST markup removed."""
    import re

    paragraph = " ".join(line.strip() for line in (doc or "").strip().split("\n\n")[0].splitlines())
    paragraph = re.sub(r":\w+:`~?([^`]+)`", r"\1", paragraph).replace("``", "").replace("`", "")
    found = re.match(r"(.+?[.!?])(\s|$)", paragraph)
    return found.group(1) if found else paragraph.rstrip(":")


def _defaults(cls) -> str:
    import dataclasses

    if not dataclasses.is_dataclass(cls):
        return ""
    shown = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        value = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # fmt: skip
        derived = value is None and f.name == "lr"
        shown.append(f"{f.name}=derived from the problem" if derived else f"{f.name}={value!r}")
    return ", ".join(shown)


@main.command()
def methods() -> None:
    """List the methods, what each does and its default hyperparameters (lr=derived: from the problem)."""
    from sgdlab.methods import METHODS

    for name, cls in METHODS.items():
        click.echo(f"{name:10s} {_summary(cls.__doc__)}")
        defaults = _defaults(cls)
        if defaults:
            click.echo(f"{'':10s} defaults: {defaults}")


_PROBLEMS = ("logistic", "least_squares", "softmax")


@main.command()
@click.option("--problem", type=click.Choice(_PROBLEMS), default="logistic", show_default=True)
@click.option("-n", "--n", "n", type=click.IntRange(min=2), default=10_000, show_default=True, help="Samples.")
@click.option("--dim", type=click.IntRange(min=1), default=50, show_default=True, help="Features.")
@click.option(
    "--cond",
    type=_Finite(min=1.0),
    default=100.0,
    show_default=True,
    help="Condition number of AᵀA/n.",
)
@click.option("--l2", type=_Finite(min=0.0), default=1e-3, show_default=True)
@click.option("--epochs", type=_Finite(min=0.0, min_open=True, max=1e6), default=10.0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--method", "method_names", multiple=True, help="Method to run (repeatable; default: all).")
def demo(problem, n, dim, cond, l2, epochs, batch_size, seed, method_names) -> None:
    """Run every method with its default settings on a synthetic problem and print where each got."""
    import sgdlab as sl

    if problem == "least_squares":
        prob = sl.problems.LeastSquares(sl.data.make_regression(n=n, dim=dim, cond=cond, seed=seed), l2=l2)
    elif problem == "softmax":
        data = sl.data.make_classification(n=n, dim=dim, cond=cond, n_classes=5, seed=seed)
        prob = sl.problems.SoftmaxRegression(data, l2=l2)
    else:
        prob = sl.problems.LogisticRegression(sl.data.make_classification(n=n, dim=dim, cond=cond, seed=seed), l2=l2)
    names = method_names or tuple(sl.methods.METHODS)
    unknown = [m for m in names if m not in sl.methods.METHODS]
    if unknown:
        raise click.BadParameter(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(sl.methods.METHODS)}",
            param_hint="--method",
        )
    click.echo(
        f"{prob!r}\nL = {prob.L:.4g}, mu = {prob.mu:.4g}, L_max = {prob.L_max:.4g}, "
        f"f* = {prob.f_star:.10g}, sigma2* = {prob.sigma2_star:.4g}\n"
    )
    click.echo(f"{'method':10s} {'status':8s} {'f - f*':>10s} {'||grad||^2':>10s} {'epochs':>7s} {'time [s]':>8s}")
    for name in names:
        trace = sl.run(prob, name, epochs=epochs, batch_size=batch_size, seed=seed)
        click.echo(
            f"{name:10s} {trace.status:8s} {trace.subopt[-1]:10.3e} {trace.grad_norm2[-1]:10.3e} "
            f"{trace.epochs[-1]:7.2f} {trace.time_s[-1]:8.2f}"
        )


@main.command()
@click.option(
    "--network",
    "networks",
    multiple=True,
    type=click.Choice(("mlp", "cnn", "charlm")),
    help="Network to train (repeatable; default: all three).",
)
@click.option(
    "--optimizer",
    "optimizers",
    multiple=True,
    type=click.Choice(("SGD", "Momentum", "Adam", "AdamW", "Adagrad")),
    help="Optimizer (repeatable; default: SGD, Momentum, Adam, AdamW, Adagrad).",
)
@click.option("--quick", is_flag=True, help="A smoke-sized run: few epochs, one seed.")
@click.option(
    "--out",
    type=_Folder(),
    default="sgdlab-out/nn",
    show_default=True,
    help="Folder for curves.csv and summary.csv.",
)
def nn(networks, optimizers, quick, out) -> None:
    """Train networks on vision (digits MLP and CNN) and language (character LSTM) with tuned optimizers."""
    from pathlib import Path

    from sgdlab.torch import experiment

    settings = experiment.Settings.quick() if quick else experiment.Settings()
    networks = networks or tuple(experiment.NETWORKS)
    optimizers = optimizers or experiment.OPTIMIZERS
    started = time.perf_counter()
    with click.progressbar(length=len(networks) * len(optimizers), label="training", file=sys.stderr) as bar:

        def progress(message: str) -> None:
            bar.update(1)
            click.echo(f"  {message}", err=True)

        curves = experiment.run_experiment(networks, optimizers, settings, on_progress=progress)
    summary = experiment.summarize(curves)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    curves.to_csv(folder / "curves.csv", index=False)
    summary.to_csv(folder / "summary.csv", index=False)
    plot = _nn_plot(curves, folder / "curves.png")
    shown = summary.drop(columns=[c for c in summary if c.endswith("_std") and summary[c].isna().all()])
    click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if len(shown.columns) < len(summary.columns):
        click.echo("(one seed: no standard deviation over seeds)")
    click.echo(f"\nwall time {time.perf_counter() - started:.1f} s; curves, summary and {plot.name} in {folder}/")


def _nn_plot(curves, path):
    """Training and test loss against epochs, one panel per network and a line per optimizer (seed median)."""
    from matplotlib.figure import Figure

    from sgdlab.viz._legend import draw_legend

    networks = list(dict.fromkeys(curves["network"]))
    fig = Figure(figsize=(4.6 * len(networks), 3.8), layout="constrained")
    axes = fig.subplots(1, len(networks), squeeze=False)[0]
    for ax, network in zip(axes, networks, strict=True):
        part = curves[curves["network"] == network]
        for optimizer, runs in part.groupby("optimizer", sort=False):
            median = runs.groupby("epochs")[["loss", "test_loss"]].median()
            (line,) = ax.plot(median.index, median["loss"], label=f"{optimizer} (train)")
            ax.plot(median.index, median["test_loss"], "--", color=line.get_color())
        ax.set_title(f"{network} (dashed: test loss)")
        ax.set_xlabel("epochs")
        ax.set_ylabel("cross-entropy (nats)")
        ax.grid(True, alpha=0.35)
        draw_legend(ax, True)  # rcParams' legend size, as every sgdlab.viz picture
    fig.savefig(path, dpi=150)
    return path


# --- experiments ------------------------------------------------------------------------------------
_DB_HELP = "SQLite results file (created if missing; an existing file must be an sgdlab results database)."


def _db_error(exc: Exception, param_hint: str) -> click.BadParameter:
    return click.BadParameter(f"{exc}; {_DB_EXPECTED}", param_hint=param_hint)


@contextlib.contextmanager
def _open_store(db: str):
    """The store at `db`, read-only (ls, show, export and report never write to it); its problems as one error."""
    from sgdlab.experiments.store import Store, StoreError

    try:
        with Store(db, readonly=True) as store:
            yield store
    except StoreError as exc:
        raise _db_error(exc, "DB") from None


def _executor(jobs, scheduler, dask_local, connect_timeout):
    from sgdlab.experiments.executors import (
        DaskExecutor,
        ProcessExecutor,
        SchedulerUnreachable,
        SerialExecutor,
        max_jobs,
    )

    if scheduler and dask_local:
        raise click.UsageError("give --scheduler or --dask-local, not both")
    for option, value in (("--jobs", jobs), ("--dask-local", dask_local)):
        if value is not None and value > max_jobs():
            raise click.BadParameter(
                f"{value} is more than {max_jobs()} (4 worker processes per core on this machine)", param_hint=option
            )
    if scheduler or dask_local:
        if jobs:
            raise click.UsageError("--jobs applies to local processes; Dask sizes itself")
        try:
            return DaskExecutor(address=scheduler, local_workers=dask_local, connect_timeout=connect_timeout)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--scheduler") from None
        except SchedulerUnreachable as exc:
            raise click.ClickException(str(exc)) from None
    if (jobs or os.cpu_count() or 1) == 1:
        return SerialExecutor()
    return ProcessExecutor(jobs)


@main.command("run")
@click.argument("spec", type=_SpecFile())
@click.option("--db", default="sgdlab-results.db", show_default=True, help=_DB_HELP)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: one per core; 1 runs serially in this process; at most 4 per core, and "
    "never more than there are runs to compute).",
)
@click.option("--scheduler", default=None, help="Run on an existing Dask scheduler, e.g. tcp://10.0.0.5:8786.")
@click.option(
    "--connect-timeout",
    type=_Finite(min=0, min_open=True, max=86_400),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the --scheduler to answer.",
)
@click.option(
    "--dask-local", type=click.IntRange(min=1), default=None, help="Start a local Dask cluster of N workers (at most 4 "
    "per core)."
)  # fmt: skip
@click.option("--progress/--no-progress", default=True, show_default=True)
def run_command(spec, db, jobs, scheduler, connect_timeout, dask_local, progress) -> None:
    """Run the experiment in SPEC (TOML), skipping runs the database already holds.

    Safe to interrupt: every finished run is saved at once; run the same command again to complete it.
    Sweeps started at the same time on one database share the work: each run is computed once.
    """
    from sgdlab.experiments import SpecError, load_spec, run_sweep
    from sgdlab.experiments.store import Store, StoreError

    try:
        parsed = load_spec(spec)
    except SpecError as exc:
        if exc.unreadable:  # a binary file (a results database, say) or an unreadable one: a usage error
            raise click.BadParameter(f"{spec} {exc.unreadable}; {_SPEC_EXPECTED}", param_hint="'SPEC'") from None
        raise click.ClickException(str(exc)) from None
    executor = _executor(jobs, scheduler, dask_local, connect_timeout)  # bad options create nothing
    try:
        store = Store(db)
    except StoreError as exc:
        executor.close()
        raise _db_error(exc, "--db") from None
    with store, executor:
        report = run_sweep(parsed, store, executor, progress=progress)
    click.echo(f"{report}; results in {db}")
    if report.disk_full:
        click.echo(report.disk_full_message(db), err=True)
        sys.exit(1)
    if report.interrupted:
        click.echo("interrupted: finished runs are saved; run the same command again to complete the sweep", err=True)
        sys.exit(130)


@main.command("ls")
@click.argument("db", type=click.Path())
@click.option("--all", "show_all", is_flag=True, help="Include tuning runs.")
@click.option("--experiment", "experiments", multiple=True, help="Only this experiment's runs (repeatable).")
def ls_command(db, show_all, experiments) -> None:
    """List the runs in DB: key, experiment, problem, method, settings, status, final values."""
    with _open_store(db) as store:
        runs = store.runs("" if show_all else "WHERE phase = 'main'")
    if experiments and not runs.empty:
        unknown = sorted(set(experiments) - set(runs["sweep"]))
        if unknown:
            raise click.BadParameter(f"no experiment named {', '.join(unknown)} in {db}; it holds "
                                     f"{', '.join(sorted(set(runs['sweep'])))}", param_hint="--experiment")  # fmt: skip
        runs = runs[runs["sweep"].isin(experiments)]
    if runs.empty:
        click.echo("no runs")
        return
    table = _runs_table(runs)
    click.echo(table.to_string(index=False))
    counts = runs["status"].value_counts()
    click.echo(f"\n{len(runs)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items()))


#: How a step size left unset is derived when the run starts (README, "A step size left unset …").
DERIVED_STEP = {
    "GD": "1/L", "SGD": "1/(2 L_b)", "Momentum": "(1−β)/(2 L_b)", "Nesterov": "(1−β)/(2 L_b)",
    "SAG": "1/(16 L_max)", "SAGA": "1/(3 L_max)", "SVRG": "1/(10 L_max)", "SLBFGS": "1/(2 L_b)",
}  # fmt: skip


def _settings(method: str, hyperparameters: dict) -> str:
    """The run's settings; a step size left unset shows how it is derived (the derived number is not stored)."""
    from sgdlab.methods import METHODS

    shown = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in hyperparameters.items()]
    if "lr" not in hyperparameters:
        if method in DERIVED_STEP:
            shown.insert(0, f"lr derived: {DERIVED_STEP[method]}")
        elif method in METHODS and getattr(METHODS[method], "lr", None) is not None:
            shown.insert(0, f"lr={METHODS[method].lr:g} (default)")
    return ", ".join(shown) or "defaults"


def _runs_table(runs):
    settings = [_settings(m, h) for m, h in zip(runs["method"], runs["hyperparameters"], strict=True)]
    columns = ["key", "experiment", "problem", "label", "settings", "batch_size", "seed", "status", "final_subopt",
               "final_loss", "time_s"]  # fmt: skip
    table = runs.assign(key=runs["run_key"].str[:10], settings=settings, experiment=runs["sweep"])[columns]
    return table.sort_values(["experiment", "problem", "label", "settings", "batch_size", "seed"], kind="stable")


@main.command("show")
@click.argument("db", type=click.Path())
@click.argument("run")
def show_command(db, run) -> None:
    """Show one run of DB (RUN is its key or a unique prefix of it): configuration and recorded trace."""
    import json

    with _open_store(db) as store:
        try:
            key = store.find(run)
        except KeyError as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="RUN") from None
        row = store.runs("WHERE run_key = ?", (key,)).iloc[0]
        click.echo(json.dumps(store.config(key), indent=2, sort_keys=True))
        click.echo(f"experiment: {row['sweep']}; settings: {_settings(row['method'], row['hyperparameters'])}")
        click.echo(
            f"status: {row['status']}"
            + (f" ({row['error'] or row['message']})" if row["error"] or row["message"] else "")
        )
        click.echo(f"worker: {row['worker']}, wall {row['wall_s']:.2f} s, versions {row['versions']}\n")
        click.echo(store.trace(key).to_string(index=False, float_format=lambda v: f"{v:.6g}"))


@main.command("export")
@click.argument("db", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(("csv", "parquet")), default="csv", show_default=True)
@click.option("--out", type=_Folder(), default=".", show_default=True, help="Folder to write into.")
def export_command(db, fmt, out) -> None:
    """Export DB's runs and traces to runs.<fmt> and traces.<fmt>."""
    with _open_store(db) as store:
        try:
            paths = store.export(out, fmt)
        except OSError as exc:
            raise click.BadParameter(str(exc), param_hint="--out") from None
    for path in paths:
        click.echo(path)


@main.command("report")
@click.argument("db", type=click.Path())
@click.option("--out", type=_Folder(), default="sgdlab-out/report", show_default=True)
def report_command(db, out) -> None:
    """Convergence plots per problem (median and inter-quartile band over seeds) and an index.html."""
    from sgdlab.experiments.report import write_report

    with _open_store(db) as store:
        try:
            paths = write_report(store, out)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.BadParameter(f"cannot write the report into {out}: {exc.strerror or exc}",
                                     param_hint="--out") from None  # fmt: skip
    for path in paths:
        click.echo(path)


@main.command("reproduce")
@click.option("--out", type=_Folder(), default="sgdlab-out/lecture", show_default=True)
@click.option("--quick", is_flag=True,
              help="Smaller budgets and fewer seeds (the report states the runs' measured time).")  # fmt: skip
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores].")
@click.option("--claim", "only", multiple=True, help="Reproduce only this claim (repeatable); --list prints the keys.")
@click.option("--list", "list_claims", is_flag=True, help="Print every claim's key and title, and exit.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def reproduce_command(out, quick, jobs, only, list_claims, progress) -> None:
    """Regenerate every claim of the lecture from measurements: verdicts, figures and OUT/report.html.

    Runs are stored in OUT/results.db as they finish, so a second call recomputes nothing and an
    interrupted one resumes. Exits with status 1 when a verdict fails.
    """
    from sgdlab.lecture import CLAIMS, run_claims
    from sgdlab.lecture.pictures import make_pictures

    keys = [c.key for c in CLAIMS]
    if list_claims:
        width = max(len(k) for k in keys)
        for claim in CLAIMS:
            click.echo(f"{claim.key:{width}s}  {claim.title}")
        return
    unknown = [k for k in only if k not in keys]
    if unknown:
        raise click.UsageError(f"unknown claim {', '.join(unknown)}; choose from {', '.join(keys)}")
    claims = [c for c in CLAIMS if not only or c.key in only]
    from sgdlab.experiments.store import StoreError

    try:
        result = run_claims(claims, out, quick=quick, jobs=jobs, progress=progress, echo=click.echo,
                            pictures=make_pictures)  # fmt: skip
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("interrupted: finished runs are saved; run the same command again to complete it", err=True)
        sys.exit(130)
    passed = sum(v.passed for v in result.verdicts.values())
    click.echo(f"{passed} of {len(result.verdicts)} claims hold ({result.wall_s:.0f} s); report: {result.report}")
    if not result.passed:
        sys.exit(1)


@main.command("playground")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: a free one).")  # fmt: skip
@click.option("--no-browser", is_flag=True, help="Print the address but do not open a browser.")
def playground_command(port, no_browser) -> None:
    """A live page on 127.0.0.1: 2-D problems, up to three methods, their sliders, paths and curves."""
    try:
        from sgdlab.playground import server

        server.require_bokeh()
    except ImportError as exc:
        raise click.ClickException(str(exc)) from None
    server.serve(port, open_browser=not no_browser, echo=lambda line: click.echo(line))
