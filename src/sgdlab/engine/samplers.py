"""Index samplers: which components the next iteration uses.

* ``"uniform"`` — ``b`` indices i.i.d. uniform on {0..n−1}, with replacement: the lecture's ``i_k``, which
  makes ``grad_batch`` an unbiased estimate of ``∇f``;
* ``"reshuffle"`` — random reshuffling: a fresh permutation each epoch, cut into consecutive batches
  (the last batch of an epoch is smaller when ``b`` does not divide ``n``);
* ``"full"`` — every index, every iteration (deterministic).

All randomness comes from the NumPy ``Generator`` passed in, so a seed fixes the whole index sequence.
Compiled segments (`sgdlab.engine.compiled`) read many iterations' indices at once with :meth:`Sampler.take`,
which yields the same indices, and leaves the sampler in the same state, as the same number of ``next()`` calls.
"""

from __future__ import annotations

import numpy as np

SAMPLERS: tuple[str, ...] = ("uniform", "reshuffle", "full")

# Indices are drawn in blocks (one Generator call per block, not per iteration); the block length is fixed,
# so the sequence depends only on the seed.
_BLOCK = 1024


class Sampler:
    """Yields index arrays for successive iterations."""

    def __init__(self, kind: str, n: int, batch_size: int, rng: np.random.Generator) -> None:
        if kind not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(map(repr, SAMPLERS))}; got {kind!r}")
        if kind != "full" and not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must be between 1 and n={n}, got {batch_size}")
        self.kind, self.n, self.rng = kind, n, rng
        self.batch_size = n if kind == "full" else batch_size
        self._all = np.arange(n)
        self._block: np.ndarray | None = None
        self._pos = 0
        self._before_take: tuple = (None, None, 0)

    def get_state(self) -> dict:
        """Everything that determines the indices still to come."""
        block = None if self._block is None else self._block.copy()
        return {"rng": self.rng.bit_generator.state, "block": block, "pos": self._pos}

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self._block = None if state["block"] is None else state["block"].copy()
        self._pos = state["pos"]

    def untake(self, keep: int) -> None:
        """Keep only the first ``keep`` batches of the last :meth:`take`: the sampler goes back to where ``keep``
        calls of ``next()`` after the state before that ``take`` would leave it."""
        rng_state, self._block, self._pos = self._before_take
        if rng_state is not None:
            self.rng.bit_generator.state = rng_state
        self.take(keep)

    def take(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``k`` batches at once, as ``(indices, offsets)``: batch ``t`` is
        ``indices[offsets[t]:offsets[t + 1]]``. Advances the sampler exactly as ``k`` calls of ``next()`` would
        (same Generator calls, same blocks); ``"full"`` is not supported (it would repeat all ``n`` indices)."""
        if self.kind == "full":
            raise ValueError("take() serves the uniform and reshuffle samplers")
        parts: list[np.ndarray] = []
        sizes: list[np.ndarray] = []
        left = int(k)
        b = self.batch_size
        # for untake: blocks are replaced, never written to, so references suffice; the Generator's state is
        # read only before a draw (reading it costs more than a chunk of iterations when done every time)
        before = [None, self._block, self._pos]
        while left > 0:
            if self.kind == "uniform":
                if self._block is None or self._pos == len(self._block):
                    if before[0] is None:
                        before[0] = self.rng.bit_generator.state
                    self._block = self.rng.integers(0, self.n, size=(_BLOCK, b))
                    self._pos = 0
                rows = min(left, len(self._block) - self._pos)
                parts.append(self._block[self._pos : self._pos + rows].reshape(-1))
                sizes.append(np.full(rows, b, dtype=np.int64))
                self._pos += rows
            else:
                if self._block is None or self._pos >= self.n:
                    if before[0] is None:
                        before[0] = self.rng.bit_generator.state
                    self._block = self.rng.permutation(self.n)
                    self._pos = 0
                # the rest of this permutation, cut into batches of b (the last one shorter)
                rows = min(left, -(-(self.n - self._pos) // b))
                ends = np.minimum(self._pos + b * np.arange(1, rows + 1, dtype=np.int64), self.n)
                parts.append(self._block[self._pos : ends[-1]])
                sizes.append(np.diff(ends, prepend=self._pos))
                self._pos = int(ends[-1])
            left -= rows
        self._before_take = tuple(before)
        indices = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(int(k) + 1, dtype=np.int64)
        if sizes:
            np.cumsum(np.concatenate(sizes), out=offsets[1:])
        return indices.astype(np.int64, copy=False), offsets

    def __iter__(self) -> Sampler:
        return self

    def __next__(self) -> np.ndarray:
        if self.kind == "full":
            return self._all
        if self.kind == "uniform":
            if self._block is None or self._pos == len(self._block):
                self._block = self.rng.integers(0, self.n, size=(_BLOCK, self.batch_size))
                self._pos = 0
            idx = self._block[self._pos]
            self._pos += 1
            return idx
        if self._block is None or self._pos >= self.n:  # reshuffle: a new permutation per epoch
            self._block = self.rng.permutation(self.n)
            self._pos = 0
        idx = self._block[self._pos : self._pos + self.batch_size]
        self._pos += len(idx)
        return idx
