"""Serve the playground with Bokeh's server on 127.0.0.1 — BokehJS included, so the page needs no network.

`python -m sgdlab.playground.server [--port N] [--no-browser]` or `sgdlab playground`. The server
listens on 127.0.0.1 only (a given port, or a free one), prints its address, opens the browser unless told
not to, and stops cleanly on Ctrl-C (or SIGTERM). Bokeh is imported here, when the server starts, and the
numerics (sgdlab, the Bokeh document) once the server listens: the address is printed as early as possible.
"""

from __future__ import annotations

import argparse
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


def _make_document(doc) -> None:
    from sgdlab.playground.app import build

    build(doc)


def warm_up() -> None:
    """Import the numerics and build the first page (its Bokeh models, paths and contours) before it is asked for."""
    from sgdlab.playground import app

    app.prepare()


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
    loop.add_callback(warm_up)
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
