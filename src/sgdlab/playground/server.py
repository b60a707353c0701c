"""Serve the playground with Bokeh's server on 127.0.0.1 — BokehJS included, so the page needs no network.

`python -m sgdlab.playground.server [--port N] [--no-browser]` or `sgdlab playground`. The server
listens on 127.0.0.1 only (a given port, or a free one), prints its address, opens the browser unless told
not to, and stops cleanly on Ctrl-C (or SIGTERM). Bokeh is imported here, when the server starts, and the
numerics (sgdlab's methods and engine, the first page's models) in a thread once the server listens: the address
is printed as early as possible, and the browser loads BokehJS while the first page is computed.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import logging
import signal
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable

ADDRESS = "127.0.0.1"
INSTALL_HINT = 'the playground needs Bokeh: pip install -e ".[playground]" (or pip install "bokeh>=3.4")'


def require_bokeh() -> None:
    """Raise `ImportError` with the install hint when Bokeh is missing."""
    try:
        import bokeh  # noqa: F401
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc


def free_port(address: str = ADDRESS) -> int:
    """A port nobody listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


#: The first page's numerics, prepared in a thread once the server listens (`None`: not started, e.g. a server
#: made by `make_server` alone, whose pages are built when asked for).
_warm: concurrent.futures.Future | None = None


def _make_document(doc) -> None:
    if _warm is None or _warm.done():
        _fill(doc)
        return

    async def fill() -> None:
        # The page's HTML goes out at once with an empty document, so the browser loads BokehJS while the
        # numerics are still being imported; its request for the document waits for this (the document lock).
        await asyncio.wrap_future(_warm)
        _fill(doc)

    doc.add_next_tick_callback(fill)


def _fill(doc) -> None:
    if _warm is not None:
        _warm.result()  # a failed warm-up raises here, in the page's session
    from sgdlab.playground.app import build

    build(doc)


def warm_up() -> None:
    """Import the numerics and build the first page (its Bokeh models, paths and contours) before it is asked for."""
    from sgdlab.playground import app

    app.prepare()


def _warm_up_in_background() -> None:
    """`warm_up` in a thread: the server answers the browser (its page, BokehJS) meanwhile."""
    global _warm
    _warm = concurrent.futures.Future()

    def work() -> None:
        try:
            warm_up()
        except BaseException as exc:  # shown in the page's session (`_fill`)
            _warm.set_exception(exc)
        else:
            _warm.set_result(None)

    threading.Thread(target=work, name="sgdlab-playground-warm-up", daemon=True).start()


def make_server(port: int = 0, address: str = ADDRESS):
    """A `bokeh.server.server.Server` for the playground on `address:port` (`0`: a free port), not started."""
    require_bokeh()
    from bokeh.application import Application
    from bokeh.application.handlers.function import FunctionHandler
    from bokeh.server.server import Server

    port = int(port) or free_port(address)
    origins = [f"{address}:{port}", f"localhost:{port}"]
    application = Application(FunctionHandler(_make_document))
    return Server({"/": application}, port=port, address=address, allow_websocket_origin=origins, num_procs=1)


def serve(port: int = 0, open_browser: bool = True, echo: Callable[[str], None] = print) -> None:
    """Run the playground until Ctrl-C (or SIGTERM): print the address, open the browser, then stop cleanly."""
    server = make_server(port)
    url = f"http://{ADDRESS}:{server.port}/"
    logging.getLogger("tornado.access").setLevel(logging.ERROR)  # no line per request (a missing favicon…)
    server.start()
    echo(f"sgdlab playground: {url}  (Ctrl-C stops it)")
    loop = server.io_loop
    _warm_up_in_background()
    if open_browser:
        loop.add_callback(webbrowser.open, url)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {}
    if threading.current_thread() is threading.main_thread():  # also where a shell started us with SIGINT ignored
        previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        with contextlib.suppress(Exception):
            loop.close(all_fds=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    echo("sgdlab playground: stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sgdlab.playground.server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    try:
        serve(args.port, open_browser=not args.no_browser, echo=lambda s: print(s, flush=True))
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
