"""An on/off switch for an optional fast path (fused kernels, compiled segments)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


class Switch:
    """On unless the environment variable `env` is `"0"`; `off` turns it off inside a block."""

    def __init__(self, env: str) -> None:
        self.on = os.environ.get(env, "1") != "0"

    @contextlib.contextmanager
    def off(self) -> Iterator[None]:
        previous, self.on = self.on, False
        try:
            yield
        finally:
            self.on = previous
