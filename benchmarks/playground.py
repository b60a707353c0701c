"""The playground's start-up and response: from the command to the page drawn, and one slider move at 1,000 steps.

    python benchmarks/playground.py                        # 5 starts of this checkout's `sgdlab playground`
    python benchmarks/playground.py --src /tmp/old/src .   # alternate two source trees (A/B), medians of each

Each start runs `python -m sgdlab playground --no-browser --port 0` in a fresh process (with the numba and
certified-optimum caches of the previous starts: a user's second start) while headless Chromium (the system's,
through playwright) is already open, as a user's browser is. **start**: from the command to the first page's
trajectory drawn (the `path-0` source holds its 301 points); **listening**: to the address printed. Then, with
the number of steps set to 1,000, the step-size slider of method 1 is moved `--moves` times: **change** is the
round trip from the move to the new path in the page, **server** the time the server reports for its update
(the `timing` text). Starts alternate between the source trees, so a load change hits each alike; the figures
are medians. Nothing is asserted: on a shared machine the figures follow the load (printed with them).
Results: benchmarks/results/playground.json.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

_READY = ("() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].get_model_by_name('path-0')"
          " && Bokeh.documents[0].get_model_by_name('path-0').data.k.length === 301")  # fmt: skip
_SET = "([name, value]) => { Bokeh.documents[0].get_model_by_name(name).value = value; }"
_X1 = "(i) => Bokeh.documents[0].get_model_by_name('path-0').data.x1[i]"
_LEN = "() => Bokeh.documents[0].get_model_by_name('path-0').data.k.length"
_TIMING = "() => Bokeh.documents[0].get_model_by_name('timing').text"


def _address(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    seen = ""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and sel.select(timeout=max(0.0, deadline - time.monotonic())):
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
            found = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if found:
                return found.group(0)
    raise RuntimeError(f"the playground printed no address in {timeout} s:\n{seen}")


def one_start(browser, src: str, caches: dict[str, str], moves: int) -> dict:
    """One `sgdlab playground` start from `src`, its first page and `moves` slider moves at 1,000 steps."""
    env = {**os.environ, **caches, "PYTHONPATH": str(Path(src).resolve())}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sgdlab", "playground", "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip
    try:
        url = _address(proc)
        listening = time.perf_counter() - started
        page.goto(url, wait_until="commit", timeout=60_000)
        page.wait_for_function(_READY, timeout=60_000, polling=10)
        start = time.perf_counter() - started
        page.evaluate(_SET, ["steps", 1000])
        page.wait_for_function(f"() => ({_LEN})() === 1001", timeout=30_000, polling=10)
        changes, server = [], []
        for i in range(moves):
            before = page.evaluate(_X1, 5)
            t0 = time.perf_counter()
            page.evaluate(_SET, ["lr-0", -1.7 - 0.05 * (i % 6 + 1)])  # on the slider's 0.01 grid, a new α each time
            page.wait_for_function(f"(x) => ({_X1})(5) !== x", arg=before, timeout=30_000, polling=5)
            changes.append(time.perf_counter() - t0)
            found = re.search(r"(\d+) ms", page.evaluate(_TIMING))
            if found:
                server.append(float(found.group(1)) / 1e3)
        return {
            "listening_s": listening,
            "start_s": start,
            "change_s": statistics.median(changes),
            "server_s": statistics.median(server) if server else None,
            "load_average_1min": os.getloadavg()[0],
        }
    finally:
        page.close()
        proc.terminate()
        proc.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", nargs="+", default=[str(HERE.parent / "src")], help="source trees to alternate")
    parser.add_argument("--starts", type=int, default=5, help="starts of each source tree (default: %(default)s)")
    parser.add_argument("--moves", type=int, default=7, help="slider moves per start (default: %(default)s)")
    parser.add_argument("--name", default="playground", help="results file name (default: %(default)s)")
    args = parser.parse_args()
    from harness import save
    from playwright.sync_api import sync_playwright

    rows: dict[str, list[dict]] = {src: [] for src in args.src}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            for i, src in enumerate(args.src):  # a first start of each fills its caches (not counted)
                caches = {"NUMBA_CACHE_DIR": f"{tmp}/numba-{i}", "SGDLAB_CACHE_DIR": f"{tmp}/optima-{i}"}
                one_start(browser, src, caches, 1)
            for _ in range(args.starts):
                for i, src in enumerate(args.src):
                    caches = {"NUMBA_CACHE_DIR": f"{tmp}/numba-{i}", "SGDLAB_CACHE_DIR": f"{tmp}/optima-{i}"}
                    row = one_start(browser, src, caches, args.moves)
                    rows[src].append(row)
                    print(src, {k: round(v, 3) for k, v in row.items() if v is not None}, flush=True)
        finally:
            browser.close()
    summary = []
    for src, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs if r[k] is not None)
               for k in ("listening_s", "start_s", "change_s", "server_s", "load_average_1min")}  # fmt: skip
        summary.append({"src": src, "starts": len(runs), **{f"median_{k}": v for k, v in med.items()}, "runs": runs})
        print(f"{src}: start {med['start_s']:.2f} s (listening {med['listening_s']:.2f} s), change at 1,000 steps "
              f"{med['change_s'] * 1e3:.0f} ms (server {med['server_s'] * 1e3:.0f} ms), "
              f"load {med['load_average_1min']:.1f}")  # fmt: skip
    print(save(args.name, "sgdlab playground: start to first page drawn, one slider move at 1,000 steps", summary))


if __name__ == "__main__":
    main()
