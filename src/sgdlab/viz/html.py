"""A self-contained HTML report: sections with a verdict, text, a table and figures, in one file.

Figures are embedded as base64 `data:` URIs and the style sheet is inline, so the page works when copied
alone; a Content-Security-Policy forbids anything else, so a stray external reference shows up as an error
instead of silently depending on the network. No JavaScript.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

MIME_TYPES = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}

_CSS = """
:root { --fg: #1d2329; --muted: #5b6670; --line: #d8dee4; --bg-soft: #f5f7f9; --accent: #1f5f99;
        --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #b42318; --fail-bg: #ffebe9; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.55;
       font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1 { font-size: 1.9rem; margin: 0 0 .4rem; }
h2 { font-size: 1.35rem; margin: 0 0 .6rem; display: flex; align-items: center; gap: .6rem; flex-wrap: wrap; }
p { margin: .5rem 0; }
a { color: var(--accent); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; }
code { background: var(--bg-soft); padding: .05em .3em; border-radius: 4px; }
pre { background: var(--bg-soft); padding: .8rem 1rem; border-radius: 6px; overflow-x: auto; margin: .4rem 0; }
.intro { color: var(--muted); }
.badge { display: inline-block; white-space: nowrap; overflow-wrap: normal; font-size: .75rem; font-weight: 700;
         letter-spacing: .05em; padding: .15em .6em;
         border-radius: 999px; border: 1px solid currentColor; vertical-align: middle; }
.badge.pass { color: var(--pass); background: var(--pass-bg); }
.badge.fail { color: var(--fail); background: var(--fail-bg); }
nav.summary { border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1.2rem; margin: 1.2rem 0 2rem;
              background: var(--bg-soft); }
nav.summary p { margin: 0 0 .4rem; font-weight: 600; }
nav.summary ol { margin: 0; padding-left: 1.4rem; }
nav.summary li { margin: .2rem 0; }
nav.summary .badge { margin-left: .4rem; }
section { border-top: 1px solid var(--line); padding: 1.6rem 0 .6rem; }
.key { color: var(--muted); font-size: .85rem; margin: -.2rem 0 .6rem; }
.table-wrap { overflow-x: auto; margin: .8rem 0; max-width: 100%; }
table { border-collapse: collapse; font-size: .88rem; font-variant-numeric: tabular-nums; max-width: 100%; }
caption { caption-side: top; text-align: left; color: var(--muted); font-size: .85rem; padding: 0 0 .3rem; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .6rem; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
th { background: var(--bg-soft); font-weight: 600; overflow-wrap: normal; }
th.num, td.num { text-align: right; }
td.num, td.short { white-space: nowrap; }
thead th { border-bottom: 2px solid #b8c2cc; vertical-align: bottom; }
tbody tr:nth-child(even) td { background: #fafbfc; }
details { margin: .6rem 0; }
summary { cursor: pointer; color: var(--muted); }
.figures { display: flex; flex-wrap: wrap; gap: 1.2rem; margin: 1rem 0; }
figure { margin: 0; flex: 1 1 auto; max-width: 100%; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; border: 1px solid var(--line);
             border-radius: 4px; }
figcaption { color: var(--muted); font-size: .88rem; margin: .4rem auto 0; max-width: 60rem; }
figcaption .file { display: block; font-size: .78rem; margin-top: .2rem; }
/* A narrow window (a projector at 800 px): tables get smaller text and padding and headers may break anywhere,
   so that a table of many columns still fits without scrolling sideways (numbers stay whole). */
@media (max-width: 1000px) {
  main { padding: 1.2rem .8rem 3rem; }
  table { font-size: .76rem; }
  th, td { padding: .3rem .28rem; }
  th { overflow-wrap: anywhere; }
  td, td.short { overflow-wrap: anywhere; white-space: normal; }
  td.num { white-space: nowrap; }
}
footer { color: var(--muted); font-size: .8rem; margin-top: 3rem; }
"""

# Inline styles and data: images only; no scripts, no network.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


#: A hyphen-minus written as a minus sign: before a digit, not inside a word or a number ("x-axis", "1-D").
_MINUS = re.compile(r"(?<![\w.\-])-(?=\.?\d)")
#: An exponent as Python prints it (`3.3e-05`, `2e+03`).
_EXPONENT = re.compile(r"(\d)e([+-])0*(\d)")


def typeset_numbers(text: str) -> str:
    """Numbers written into sentences and text cells (`f"{x:.3g}"`) as `format_number` prints them in the tables:
    a true minus sign (−0.034, not -0.034) and a compact exponent (3.3e−5, not 3.3e-05); other hyphens stay.

    Examples:
        >>> typeset_numbers("x = -1.003 in [-1.007, -0.9], f − f* 3.3e-05, 2e+03; a 1-D x-axis, --claim")
        'x = −1.003 in [−1.007, −0.9], f − f* 3.3e−5, 2e3; a 1-D x-axis, --claim'
    """
    text = _EXPONENT.sub(lambda m: m.group(1) + "e" + ("−" if m.group(2) == "-" else "") + m.group(3), text)
    return _MINUS.sub("−", text)


def _prose(text: str) -> str:
    """Plain text to HTML: escaped, blank lines separate paragraphs, `backticks` become `<code>` (kept as
    written), numbers elsewhere typeset as the tables print them (`typeset_numbers`)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    out = []
    for p in paragraphs:
        pieces = re.split(r"(`[^`]+`)", p)  # odd pieces are code
        escaped = "".join(f"<code>{html.escape(piece[1:-1])}</code>" if i % 2 else html.escape(typeset_numbers(piece))
                          for i, piece in enumerate(pieces))  # fmt: skip
        out.append(f"<p>{escaped}</p>")
    return "\n".join(out)


def _badge(verdict: bool | None) -> str:
    if verdict is None:
        return ""
    return '<span class="badge pass">PASS</span>' if verdict else '<span class="badge fail">FAIL</span>'


def format_number(value: object, digits: int = 4) -> str:
    """A number for people, as the report's tables show it.

    `digits` significant digits (4: −1.003 stays −1.003), thousands separators for large magnitudes, a
    compact exponent (`1.2e−9`) only for very small or very large ones, a true minus sign, `—` for a
    missing value and `∞` for an infinite one; integers are printed whole.

    Args:
        value: A number (Python or NumPy), `None`, or anything else (returned as `str(value)`).
        digits: Significant digits of non-integers.

    Returns:
        The text.

    Examples:
        >>> [format_number(v) for v in (-1.0034, 123456.0, 3e-9, float("inf"), None, 7)]
        ['−1.003', '123,456', '3e−9', '∞', '—', '7']
    """
    import numbers

    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    v = float(value)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if isinstance(value, numbers.Integral) or (v.is_integer() and 1 <= abs(v) < 1e15):
        text = f"{int(v):,}"
    elif v == 0:
        text = "0"
    elif 1e-3 <= abs(v) < 1e3:
        text = f"{v:.{digits}g}"
    elif 1e3 <= abs(v) < 1e7:
        text = f"{v:,.0f}"
    else:
        text = re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2),
                      f"{v:.{digits}g}")  # fmt: skip
    return text.replace("-", "−")


def _flat_label(label: object) -> str:
    if isinstance(label, tuple):
        return ": ".join(str(part) for part in label if str(part))
    return "" if label is None else str(label)


#: Text cells this short are kept on one line (a table never breaks "< 1e−16" or "PASS" over two).
SHORT_CELL = 12


def _table(table: pd.DataFrame | str, caption: str = "") -> str:
    """A DataFrame as an HTML table for people: a named index becomes ordinary leading columns, an unnamed
    0, 1, 2, … index is left out, nested column labels are joined ("theory: GD") into one header row, numbers are
    formatted by [`format_number`][sgdlab.viz.html.format_number] and right-aligned, and a `verdict` column of PASS/FAIL
    shows badges. A string is HTML the caller rendered, used as it is."""
    if isinstance(table, str):
        return table  # pre-rendered by the caller
    import pandas as pd

    named = any(name is not None for name in table.index.names)
    if named or not (isinstance(table.index, pd.RangeIndex) and table.index.start == 0):
        table = table.reset_index()
    headers = [_flat_label(c) for c in table.columns]
    numeric = [pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
               for c in table.columns]  # fmt: skip
    head = "".join(f'<th{" class=num" if num else ""}>{html.escape(h)}</th>'
                   for h, num in zip(headers, numeric, strict=True))  # fmt: skip
    rows = []
    for values in table.itertuples(index=False, name=None):
        cells = []
        for h, num, value in zip(headers, numeric, values, strict=True):
            if h == "verdict" and value in ("PASS", "FAIL"):
                cells.append(f"<td>{_badge(value == 'PASS')}</td>")
            elif num:
                cells.append(f'<td class="num">{html.escape(format_number(value))}</td>')
            else:
                text = "—" if value is None else typeset_numbers(str(value))
                short = ' class="short"' if len(text) <= SHORT_CELL else ""  # "< 1e−16" on one line
                cells.append(f"<td{short}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(typeset_numbers(caption))}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _css_width(path: Path) -> int | None:
    """The width in CSS pixels (96 per inch) of a PNG that records its resolution (matplotlib's do), so a
    figure drawn at 200 dpi is shown at the size it was designed for, its text at its point size."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, width, per_metre = 8, None, None
    while pos + 8 <= len(data):
        length, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR" and len(body) >= 4:
            width = int.from_bytes(body[:4], "big")
        elif kind == b"pHYs" and len(body) == 9 and body[8] == 1:
            per_metre = int.from_bytes(body[:4], "big")
        elif kind == b"IDAT":
            break
        pos += 12 + length
    if not width or not per_metre:
        return None
    return round(width / (per_metre * 0.0254) * 96)


def data_uri(path: str | Path) -> str:
    """The file as a base64 `data:` URI, typed by its suffix (PNG, GIF, SVG, JPEG, WebP)."""
    path = Path(path)
    mime = MIME_TYPES.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"cannot embed {path.name}: figures must be one of {', '.join(MIME_TYPES)}")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


@dataclass
class _Section:
    anchor: str
    title: str
    text: str
    verdict: bool | None
    details: str
    table: str
    figures: list[tuple[str, str, str, int | None]] = field(default_factory=list)  # (URI, name, caption, width)
    key: str = ""


class HtmlReport:
    """Sections of text, verdicts, tables and figures, written as one self-contained HTML file.

    Figures are embedded as `data:` URIs and the style sheet is inline; a Content-Security-Policy forbids
    anything else, so the page works when copied alone. `sgdlab reproduce` and `sgdlab report` write theirs
    with it.

    Args:
        title: The page's title and heading.
        intro: Plain text under the heading (blank lines start paragraphs).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> report = HtmlReport("Lecture claims", intro="Each claim, its experiment and its verdict.")
        >>> report.add_section("SGD with a constant step stalls", "It reaches a floor.", verdict=True, key="floor")
        >>> page = report.write(Path(tempfile.mkdtemp()) / "report.html")
        >>> "PASS" in page.read_text(encoding="utf-8")
        True
    """

    def __init__(self, title: str, intro: str = "") -> None:
        self.title = str(title)
        self.intro = str(intro)
        self.sections: list[_Section] = []

    def _anchor(self, title: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48] or "section"
        return f"s{len(self.sections) + 1}-{slug}"  # the number keeps repeated titles apart

    def add_section(
        self,
        title: str,
        text: str = "",
        verdict: bool | None = None,
        details: str = "",
        table: pd.DataFrame | str | None = None,
        figures: Sequence[str | Path | tuple[str | Path, str]] = (),
        key: str = "",
        tables: Sequence[pd.DataFrame | str | tuple[str, pd.DataFrame | str]] = (),
    ) -> None:
        """Append a section.

        Args:
            title: The section's heading (also listed in the summary at the top).
            text: Plain text, escaped; blank lines start paragraphs, `code` goes in backticks.
            verdict: `True` shows a green PASS badge, `False` a red FAIL one, `None` none.
            details: Shown verbatim in a collapsed block.
            table: A DataFrame (formatted for people, see
                [`format_number`][sgdlab.viz.html.format_number]), HTML the caller rendered, or a
                `(caption, table)` pair.
            figures: PNG, GIF, SVG, JPEG or WebP files, each alone or as a `(file, caption)` pair, read now and
                embedded; a PNG that records its dpi is shown at its drawn size.
            key: A short identifier shown under the title (e.g. the claim's key for `--claim`).
            tables: More tables, each as `table`.

        Raises:
            ValueError: A figure is not of a type the page can embed.
            FileNotFoundError: A figure file does not exist.
        """
        if verdict is not None and not isinstance(verdict, bool):
            verdict = bool(verdict)  # numpy booleans from checks
        shown = []
        for item in figures:
            path, caption = item if isinstance(item, tuple) else (item, "")
            path = Path(path)
            width = _css_width(path) if path.suffix.lower() == ".png" else None
            shown.append((data_uri(path), path.name, str(caption), width))
        rendered = []
        for item in ([table] if table is not None else []) + list(tables):
            caption, part = item if isinstance(item, tuple) else ("", item)
            rendered.append(_table(part, caption) if not isinstance(part, str) else part)
        self.sections.append(
            _Section(
                anchor=self._anchor(str(title)),
                title=str(title),
                text=str(text),
                verdict=verdict,
                details=str(details),
                table="".join(f'<div class="table-wrap">{t}</div>' for t in rendered),
                figures=shown,
                key=str(key),
            )
        )

    def _summary(self) -> str:
        if not self.sections:
            return ""
        judged = [s.verdict for s in self.sections if s.verdict is not None]
        head = f"{sum(judged)} of {len(judged)} checks pass" if judged else "Contents"
        items = "".join(
            f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a>{_badge(s.verdict)}</li>' for s in self.sections
        )
        return f'<nav class="summary"><p>{head}</p><ol>{items}</ol></nav>'

    def _section(self, s: _Section) -> str:
        parts = [f'<section id="{s.anchor}">', f"<h2>{html.escape(s.title)}{_badge(s.verdict)}</h2>"]
        if s.key:
            parts.append(f'<p class="key">key <code>{html.escape(s.key)}</code></p>')
        if s.text:
            parts.append(_prose(s.text))
        if s.table:
            parts.append(s.table)
        if s.figures:
            items = []
            for uri, name, caption, width in s.figures:
                size = f' width="{width}"' if width else ""
                text = html.escape(name)
                if caption:
                    text = html.escape(typeset_numbers(caption)) + f'<span class="file">{text}</span>'
                items.append(f'<figure><img src="{uri}" alt="{html.escape(s.title)}: {html.escape(name)}"{size}>'
                             f"<figcaption>{text}</figcaption></figure>")  # fmt: skip
            parts.append(f'<div class="figures">{"".join(items)}</div>')
        if s.details:
            parts.append(f"<details><summary>Details</summary><pre>{html.escape(s.details)}</pre></details>")
        parts.append("</section>")
        return "\n".join(parts)

    def render(self) -> str:
        """The whole page as a string."""
        from sgdlab._version import __version__

        title = html.escape(self.title)
        body = "\n".join(self._section(s) for s in self.sections)
        return (
            "<!doctype html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
            f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            f"<h1>{title}</h1>\n"
            f"{'<div class=intro>' + _prose(self.intro) + '</div>' if self.intro else ''}\n"
            f"{self._summary()}\n{body}\n"
            f"<footer>sgdlab {html.escape(__version__)}</footer>\n</main>\n</body>\n</html>\n"
        )

    def write(self, path: str | Path) -> Path:
        """Write the page (UTF-8) to `path`, creating its folder.

        Returns:
            `path`, as a `Path`.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path
