"""Mid-run checkpoints: everything a run needs to continue exactly where it was.

A checkpoint holds the iterate, the method's state, the sampler's random state, the counters, and the
columns recorded so far, plus a *signature* of the run's arguments: a checkpoint resumes only the run that
wrote it (same problem data, method, hyperparameters, sampling, seed, budget and recording). Resuming gives
the trace the uninterrupted run would have given, bit for bit, except ``time_s``.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sgdlab.methods.base import Method


@dataclass
class Checkpoint:
    signature: dict[str, Any]
    method: Method  # as resolved when the run started (so schedules keep their length)
    x: np.ndarray
    state: dict[str, Any]
    sampler: dict[str, Any]
    counters: dict[str, float]
    columns: dict[str, list[float]]

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically: a reader (or a resumed run after a crash) never sees half a file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as tmp:
            pickle.dump(self, tmp, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, path)

    @staticmethod
    def load(path: str | os.PathLike) -> Checkpoint:
        try:
            with open(path, "rb") as handle:
                checkpoint = pickle.load(handle)
        except FileNotFoundError:
            raise FileNotFoundError(f"checkpoint not found: {path}") from None
        except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
            raise ValueError(f"{path} is not a readable sgdlab checkpoint: {exc}") from None
        if not isinstance(checkpoint, Checkpoint):
            raise ValueError(f"{path} is not an sgdlab checkpoint")
        return checkpoint

    def check_signature(self, signature: dict[str, Any]) -> None:
        different = sorted(k for k in set(signature) | set(self.signature) if signature.get(k) != self.signature.get(k))
        if different:
            raise ValueError("this checkpoint belongs to a different run; it differs in " + ", ".join(different))
