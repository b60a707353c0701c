"""Measured convergence: rate fits with bootstrap intervals over seeds, thresholds, tuning summaries.

`fit_rate` / `bootstrap_rate` read the lecture's iteration-complexity table off traces (linear rate
`q` or sublinear exponent `p`); `iterations_to` and `noise_floor` measure where a curve crosses a level
and where constant-step SGD stalls; `tuning_summary` condenses a hyperparameter sweep.
"""

from sgdlab.analysis.rates import RateEstimate, RateFit, bootstrap_rate, fit_rate, iterations_to, noise_floor


def __getattr__(name: str):
    # pandas is imported only when a tuning summary is asked for
    if name == "tuning_summary":
        from sgdlab.analysis.tuning import tuning_summary

        return tuning_summary
    raise AttributeError(f"module 'sgdlab.analysis' has no attribute {name!r}")


__all__ = ["RateEstimate", "RateFit", "bootstrap_rate", "fit_rate", "iterations_to", "noise_floor", "tuning_summary"]
