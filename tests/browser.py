"""Open an HTML file in the system's headless Chromium (through playwright) and report what the page did.

The browser is the Debian ``chromium`` package that ``.ci/run`` installs, never one that playwright
downloads: ``executable_path`` points at it. A missing browser or playwright fails the calling test with
the commands that install them (a skipped browser test would hide a broken report).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL_HINT = (
    "install it with `apt-get install -y chromium` (Debian/Ubuntu; `.ci/run` does this) and "
    '`pip install -e ".[test]"` (which brings playwright; do not run `playwright install`)'
)

_IMAGES_JS = """() => Array.from(document.images).map(img => ({
    src: img.getAttribute('src') || '', width: img.naturalWidth, height: img.naturalHeight, complete: img.complete,
    alt: img.getAttribute('alt') || ''}))"""


@dataclass
class PageCheck:
    """What a page did while loading: its title, images, console errors and requests."""

    title: str
    images: list[tuple[str, int, int]]  # (first 40 characters of src, naturalWidth, naturalHeight)
    incomplete_images: list[str]  # src prefixes of images whose `complete` is false
    alts: list[str]
    console_errors: list[str] = field(default_factory=list)  # console.error messages and uncaught exceptions
    failed_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL fetched (the page itself included)
    text: str = ""  # document.body.innerText
    badges: list[str] = field(default_factory=list)  # texts of the .badge elements
    overflowing: list[str] = field(default_factory=list)  # elements wider than their box (they scroll sideways)


def chromium_path() -> str:
    """The system Chromium, or a test failure that says how to install it."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"headless Chromium is needed for the report test and was not found on PATH: {INSTALL_HINT}")


_OVERFLOW_JS = """() => Array.from(document.querySelectorAll('body, main, section, .table-wrap, table, figure, pre'))
    .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).display !== 'inline')
    .map(e => `${e.tagName.toLowerCase()}.${e.className} in ${(e.closest('section') || {}).id || 'page'}: `
              + `${e.scrollWidth} > ${e.clientWidth} px`)"""


def open_report(path: str | Path, timeout_ms: int = 20_000, width: int = 1280) -> PageCheck:
    """Load ``path`` in headless Chromium with a ``width``-pixel viewport, wait for the ``load`` event, and
    collect a :class:`PageCheck` (``overflowing``: every element whose content is wider than its box)."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the report test drives Chromium with playwright, which is not installed: {INSTALL_HINT}")
    url = Path(path).resolve().as_uri()
    errors: list[str] = []
    failed: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
            page.on("requestfailed", lambda r: failed.append(f"{r.url[:80]}: {r.failure}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load", timeout=timeout_ms)
            images = page.evaluate(_IMAGES_JS)
            check = PageCheck(
                title=page.title(),
                images=[(img["src"][:40], img["width"], img["height"]) for img in images],
                incomplete_images=[img["src"][:40] for img in images if not img["complete"]],
                alts=[img["alt"] for img in images],
                console_errors=errors,
                failed_requests=failed,
                requests=requests,
                text=page.inner_text("body"),
                badges=page.locator(".badge").all_inner_texts(),
                overflowing=page.evaluate(_OVERFLOW_JS),
            )
        finally:
            browser.close()
    return check
