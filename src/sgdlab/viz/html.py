"""A self-contained HTML report: sections with a verdict, text, a table and figures, in one file.

Figures are embedded as base64 ``data:`` URIs and the style sheet is inline, so the page works when copied
alone; a Content-Security-Policy forbids anything else, so a stray external reference shows up as an error
instead of silently depending on the network. No JavaScript.
"""

from __future__ import annotations

import base64
import html
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
.badge { display: inline-block; font-size: .75rem; font-weight: 700; letter-spacing: .05em; padding: .15em .6em;
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
.table-wrap { overflow-x: auto; margin: .8rem 0; }
table { border-collapse: collapse; font-size: .9rem; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .7rem; text-align: right; white-space: nowrap; }
th { background: var(--bg-soft); font-weight: 600; }
thead th { border-bottom: 2px solid #b8c2cc; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td:first-child, th:first-child { text-align: left; }
details { margin: .6rem 0; }
summary { cursor: pointer; color: var(--muted); }
.figures { display: flex; flex-wrap: wrap; gap: 1.2rem; margin: 1rem 0; }
figure { margin: 0; flex: 0 1 auto; max-width: 100%; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; border: 1px solid var(--line);
             border-radius: 4px; }
figcaption { color: var(--muted); font-size: .85rem; text-align: center; margin-top: .3rem; }
footer { color: var(--muted); font-size: .8rem; margin-top: 3rem; }
"""

# Inline styles and data: images only; no scripts, no network.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _prose(text: str) -> str:
    """Plain text to HTML: escaped, blank lines separate paragraphs, ``backticks`` become ``<code>``."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    out = []
    for p in paragraphs:
        escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(p))
        out.append(f"<p>{escaped}</p>")
    return "\n".join(out)


def _badge(verdict: bool | None) -> str:
    if verdict is None:
        return ""
    return '<span class="badge pass">PASS</span>' if verdict else '<span class="badge fail">FAIL</span>'


def _compact(value: float) -> str:
    """Floats in tables: 4 significant digits, scientific only when the magnitude asks for it."""
    if value != value:  # NaN
        return "–"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3e}"


def _table(table: pd.DataFrame | str) -> str:
    """A DataFrame as an HTML table: a named index becomes ordinary leading columns (pandas would give its
    names a header row of their own), an unnamed 0, 1, 2, … index is left out."""
    if isinstance(table, str):
        return table  # pre-rendered by the caller
    import pandas as pd

    named = any(name is not None for name in table.index.names)
    if named:
        table = table.reset_index()
    index = not named and not (isinstance(table.index, pd.RangeIndex) and table.index.start == 0)
    return table.to_html(float_format=_compact, border=0, escape=True, na_rep="–", index=index)


def data_uri(path: str | Path) -> str:
    """The file as a base64 ``data:`` URI, typed by its suffix (PNG, GIF, SVG, JPEG, WebP)."""
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
    figures: list[tuple[str, str]] = field(default_factory=list)  # (data URI, file name)


class HtmlReport:
    """Sections of text, verdicts, tables and figures, written as one self-contained HTML file.

    Usage::

        report = HtmlReport("Lecture claims", intro="Each claim, its experiment and its verdict.")
        report.add_section("SGD with a constant step stalls", "…", verdict=True, figures=[png_path])
        report.write("report.html")
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
        figures: Sequence[str | Path] = (),
    ) -> None:
        """Append a section.

        ``verdict``: ``True`` shows a green PASS badge, ``False`` a red FAIL one, ``None`` none. ``text``
        is plain text (escaped; blank lines start paragraphs, ```code``` in backticks); ``details`` is
        shown verbatim in a collapsed block. ``table``: a DataFrame (floats to 4 significant digits) or
        HTML the caller rendered. ``figures``: PNG, GIF, SVG or JPEG files, read now and embedded.
        """
        if verdict is not None and not isinstance(verdict, bool):
            verdict = bool(verdict)  # numpy booleans from checks
        figures = [(data_uri(f), Path(f).name) for f in figures]
        self.sections.append(
            _Section(
                anchor=self._anchor(str(title)),
                title=str(title),
                text=str(text),
                verdict=verdict,
                details=str(details),
                table="" if table is None else _table(table),
                figures=figures,
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
        if s.text:
            parts.append(_prose(s.text))
        if s.table:
            parts.append(f'<div class="table-wrap">{s.table}</div>')
        if s.figures:
            figures = "".join(
                f'<figure><img src="{uri}" alt="{html.escape(s.title)}: {html.escape(name)}">'
                f"<figcaption>{html.escape(name)}</figcaption></figure>"
                for uri, name in s.figures
            )
            parts.append(f'<div class="figures">{figures}</div>')
        if s.details:
            parts.append(f"<details><summary>Details</summary><pre>{html.escape(s.details)}</pre></details>")
        parts.append("</section>")
        return "\n".join(parts)

    def render(self) -> str:
        """The whole page as a string."""
        from sgdlab import __version__

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
        """Write the page (UTF-8) to ``path``, creating its folder; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path
