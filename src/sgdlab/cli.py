"""The ``sgdlab`` command line."""

from __future__ import annotations

import click

from sgdlab import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sgdlab")
def main() -> None:
    """sgdlab — stochastic and adaptive gradient methods on finite-sum problems."""


@main.command()
def methods() -> None:
    """List the methods and their default hyperparameters."""
    from sgdlab.methods import METHODS

    for name, cls in METHODS.items():
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        click.echo(f"{name:10s} {doc}")


_PROBLEMS = ("logistic", "least_squares", "softmax")


@main.command()
@click.option("--problem", type=click.Choice(_PROBLEMS), default="logistic", show_default=True)
@click.option("-n", "--n", "n", type=click.IntRange(min=2), default=10_000, show_default=True, help="Samples.")
@click.option("--dim", type=click.IntRange(min=1), default=50, show_default=True, help="Features.")
@click.option(
    "--cond",
    type=click.FloatRange(min=1.0),
    default=100.0,
    show_default=True,
    help="Condition number of AᵀA/n.",
)
@click.option("--l2", type=click.FloatRange(min=0.0), default=1e-3, show_default=True)
@click.option("--epochs", type=click.FloatRange(min=0.0, min_open=True), default=10.0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
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
