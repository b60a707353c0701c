"""The `legend=` option every plotting function of `sgdlab.viz` takes."""

from __future__ import annotations

from typing import Any

#: What `legend=` accepts: `True` (drawn with the function's defaults), `False` (none), or a dict of
#: `Axes.legend` keyword arguments that override those defaults (`{"fontsize": 14, "loc": "upper right"}`).
LegendOption = bool | dict[str, Any]


def draw_legend(ax, legend: LegendOption, **defaults: Any) -> None:
    """Draw `ax`'s legend as `legend` asks (see `LegendOption`); without a `fontsize`, the text size is
    matplotlib's `rcParams["legend.fontsize"]`, so a style sheet for slides (or `matplotlib.rc_context`)
    sets it for every picture at once."""
    if legend is False or legend is None:
        old = ax.get_legend()
        if old is not None:
            old.remove()
        return
    if legend is True:
        options = dict(defaults)
    elif isinstance(legend, dict):
        options = {**defaults, **legend}
    else:
        raise TypeError(f"legend must be True, False or a dict of Axes.legend arguments, got {legend!r}")
    ax.legend(**options)
