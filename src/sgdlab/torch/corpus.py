"""An offline text corpus: Python's own standard-library sources, present on every installation."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np

#: Pure-Python modules of the standard library, read in this order (missing ones are skipped).
STDLIB_MODULES = (
    "textwrap.py", "string.py", "functools.py", "fractions.py", "heapq.py", "bisect.py", "shlex.py",
    "calendar.py", "difflib.py", "argparse.py", "statistics.py", "random.py", "pprint.py", "glob.py",
)  # fmt: skip

#: The shortest text a language model is trained on.
MIN_CHARS = 10_000

#: Printable ASCII plus newline; any other character becomes "?" (so the vocabulary is fixed).
ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))


def stdlib_text(max_chars: int = 200_000) -> str:
    """The first `max_chars` (≥ `MIN_CHARS`) characters of the concatenated standard-library sources."""
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < MIN_CHARS:
        raise ValueError(f"max_chars must be an integer >= {MIN_CHARS:,}, got {max_chars!r}")
    root = Path(sysconfig.get_paths()["stdlib"])
    parts, total = [], 0
    for name in STDLIB_MODULES:
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            parts.append(text)
            total += len(text)
            if total >= max_chars:
                break
    text = "".join(parts)[:max_chars]
    if len(text) < MIN_CHARS:
        raise FileNotFoundError(f"the standard-library sources under {root} are missing or too short")
    return text


def encode(text: str) -> np.ndarray:
    """Character indices into `ALPHABET` (unknown characters map to `"?"`)."""
    lookup = np.full(128, ALPHABET.index("?"), dtype=np.int64)
    for i, ch in enumerate(ALPHABET):
        lookup[ord(ch)] = i
    codes = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)
    return lookup[codes]
