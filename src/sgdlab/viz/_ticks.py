"""Log-axis tick labels without mathtext: `10⁻¹⁶`, `2×10⁻¹` in plain Unicode text.

Matplotlib's log formatter writes each label as mathtext (`$\\mathdefault{10^{-16}}$`), which is parsed and
laid out anew for every label, at every draw and every resolution; with six log–log panels written as PNG
and SVG, that parsing was most of a figure's drawing time. `UnicodeLogFormatter` keeps matplotlib's choice
of which ticks get a label and writes the same label as ordinary text. `light_log_ticks` also thins the
minor ticks of an axis spanning many decades to 2 and 5 times each power of ten (each tick is several
artists, measured on every draw); an axis of a few decades keeps every minor tick and its labels.
"""

from __future__ import annotations

import copy
import math
import re

import numpy as np
from matplotlib import ticker

_SUPERSCRIPT = str.maketrans("-−0123456789", "⁻⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_POWER = re.compile(r"\^\{?([-−]?\d+)\}?")


def _plain(label: str) -> str:
    """A mathtext label of a log axis as plain Unicode text (`$\\mathdefault{2\\times10^{-1}}$` → `2×10⁻¹`)."""
    if not label.startswith("$"):
        return label
    text = label.strip("$").replace("\\mathdefault", "").replace("\\times", "×").replace("\\,", "")
    text = _POWER.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    text = text.replace("{", "").replace("}", "").replace("\\", "")
    return text.replace("-", "−")


class UnicodeLogFormatter(ticker.LogFormatterSciNotation):
    """Matplotlib's log-axis labels (same ticks labelled) as plain text instead of mathtext."""

    def __call__(self, x, pos=None):
        return _plain(super().__call__(x, pos))


#: An axis spanning more decades than this gets minor ticks at 2 and 5 times each power of ten only.
MANY_DECADES = 3.0


class ThinMinorLogLocator(ticker.LogLocator):
    """Matplotlib's minor log ticks (2, 3, …, 9 times each power of ten) on an axis of a few decades; on a
    wider one only 2 and 5 times each power of ten (unlabelled there either way)."""

    def __init__(self) -> None:
        super().__init__(subs="auto")

    def tick_values(self, vmin, vmax):
        if vmin > 0 and vmax > 0 and abs(math.log10(vmax / vmin)) > MANY_DECADES:
            self._subs = np.array([2.0, 5.0])
        else:
            self._subs = "auto"
        return super().tick_values(vmin, vmax)


def plain_log_labels(ax) -> None:
    """On each log-scaled axis of `ax` still labelled by matplotlib's own (mathtext) formatter, the same labels
    as plain text; formatters a caller chose (a `NullFormatter`, …) stay. A figure's last step before saving:
    it covers the log axes drawn without `light_log_ticks`."""
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale != "log":
            continue
        for formatter, setter in (
            (axis.get_major_formatter(), axis.set_major_formatter),
            (axis.get_minor_formatter(), axis.set_minor_formatter),
        ):
            if type(formatter) is ticker.LogFormatterSciNotation:  # exactly matplotlib's default
                plain = copy.copy(formatter)  # its settings (base, which ticks get a label) kept as they are
                plain.__class__ = UnicodeLogFormatter
                setter(plain)


def light_log_ticks(ax) -> None:
    """On each log-scaled axis of `ax`: plain-text labels, and thinner minor ticks where it spans many decades."""
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale != "log":
            continue
        axis.set_major_formatter(UnicodeLogFormatter())
        axis.set_minor_locator(ThinMinorLogLocator())
        axis.set_minor_formatter(UnicodeLogFormatter(labelOnlyBase=False))
