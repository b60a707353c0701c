"""Index samplers: which components the next iteration uses.

* `"uniform"` — `b` indices i.i.d. uniform on {0..n−1}, with replacement: the lecture's `i_k`, which
  makes `grad_batch` an unbiased estimate of `∇f`;
* `"reshuffle"` — random reshuffling: a fresh permutation each epoch, cut into consecutive batches
  (the last batch of an epoch is smaller when `b` does not divide `n`);
* `"blocks"` — block-local reshuffling, for data read from disk: the rows are split into consecutive blocks of
  `block_rows` (the last one shorter); each epoch visits the blocks in a fresh random order and, within each block, its
  rows in a fresh random order, cut into batches of `b` that never cross a block boundary (a block's last batch is
  smaller when `b` does not divide its size). Every index is used once per epoch, as with `"reshuffle"`, but an epoch
  reads each block once and the sampler holds O(`block_rows` + n/`block_rows`) indices instead of n. The block size
  comes from the data ([`Sampler.for_problem`][sgdlab.engine.Sampler.for_problem]): an out-of-core dataset's
  `block_rows`, and for the same data in memory the size it would have on disk, so both give the same indices;
* `"full"` — every index, every iteration (deterministic).

All randomness comes from the NumPy `Generator` passed in, so a seed fixes the whole index sequence.
Compiled segments (`sgdlab.engine.compiled`) read many iterations' indices at once with
[`Sampler.take`][sgdlab.engine.Sampler.take], which yields the same indices, and leaves the sampler in the
same state, as the same number of `next()` calls.
"""

from __future__ import annotations

import numpy as np

#: The samplers `sl.run(..., sampler=...)` accepts (see above).
SAMPLERS: tuple[str, ...] = ("uniform", "reshuffle", "blocks", "full")

# Indices are drawn in blocks (one Generator call per block, not per iteration); the block length is fixed,
# so the sequence depends only on the seed.
_BLOCK = 1024

#: Rows per block of the `"blocks"` sampler when the problem does not say (no dataset behind it).
DEFAULT_BLOCK_ROWS = 65_536


class Sampler:
    """An iterator of index arrays, one per iteration: which components the next step uses.

    Args:
        kind: One of [`SAMPLERS`][sgdlab.engine.SAMPLERS].
        n: The number of components.
        batch_size: Indices per iteration, 1..n (ignored by `"full"`, which gives all `n`).
        rng: The NumPy `Generator` all randomness comes from.
        block_rows: The block size of the `"blocks"` sampler (default `DEFAULT_BLOCK_ROWS`, at most `n`);
            the other kinds ignore it. [`for_problem`][sgdlab.engine.Sampler.for_problem] takes it from the
            problem's data.

    Raises:
        ValueError: An unknown `kind`, `batch_size` outside 1..n, a `block_rows` that is not a positive
            integer, or a batch larger than a block.

    Examples:
        >>> import numpy as np
        >>> from sgdlab.engine import Sampler
        >>> sampler = Sampler("reshuffle", n=6, batch_size=4, rng=np.random.default_rng(0))
        >>> [sorted(next(sampler).tolist() + next(sampler).tolist()) for epoch in range(2)]  # each index once
        [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]]
        >>> indices, offsets = Sampler("uniform", 10, 3, np.random.default_rng(1)).take(4)
        >>> offsets.tolist(), indices.shape
        ([0, 3, 6, 9, 12], (12,))
    """

    def __init__(
        self, kind: str, n: int, batch_size: int, rng: np.random.Generator, block_rows: int | None = None
    ) -> None:
        if kind not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(map(repr, SAMPLERS))}; got {kind!r}")
        if kind != "full" and not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must be between 1 and n={n}, got {batch_size}")
        self.kind, self.n, self.rng = kind, n, rng
        self.batch_size = n if kind == "full" else batch_size
        self.block_rows = DEFAULT_BLOCK_ROWS if block_rows is None else block_rows
        if isinstance(self.block_rows, bool) or not isinstance(self.block_rows, int | np.integer):
            raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
        self.block_rows = min(int(self.block_rows), n)  # one block holds at most all the rows
        if self.block_rows < 1:
            raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
        if kind == "blocks" and batch_size > self.block_rows:
            raise ValueError(
                f"batch_size={batch_size} exceeds the {self.block_rows} rows of a block: the 'blocks' sampler "
                "cuts batches inside blocks (use larger blocks, e.g. Dataset.from_npy(..., block_rows=...))"
            )
        # only "full" hands out all n indices; the other kinds must not hold anything n-sized they do not need
        self._all = np.arange(n) if kind == "full" else None
        self._block: np.ndarray | None = None  # uniform: drawn indices; reshuffle: the epoch; blocks: one block
        self._pos = 0
        self._order: np.ndarray | None = None  # blocks: this epoch's order of blocks
        self._order_pos = 0
        self._before_take: tuple = (None, None, 0, None, 0)

    @classmethod
    def for_problem(cls, kind: str, problem, batch_size: int, rng: np.random.Generator) -> Sampler:
        """The sampler a run on `problem` uses (`n` and `block_rows` from the problem and its dataset)."""
        data = getattr(problem, "data", None)
        return cls(kind, problem.n, batch_size, rng, block_rows=getattr(data, "sampler_block_rows", None))

    def get_state(self) -> dict:
        """Everything that determines the indices still to come."""
        block = None if self._block is None else self._block.copy()
        state = {"rng": self.rng.bit_generator.state, "block": block, "pos": self._pos}
        if self.kind == "blocks":
            order = None if self._order is None else self._order.copy()
            state.update(order=order, order_pos=self._order_pos, block_rows=self.block_rows)
        return state

    def set_state(self, state: dict) -> None:
        """Continue from a state of [`get_state`][sgdlab.engine.Sampler.get_state]; `ValueError` if it was
        taken with another block size."""
        if self.kind == "blocks" and state.get("block_rows") != self.block_rows:
            raise ValueError(
                f"this state is for blocks of {state.get('block_rows')} rows, not {self.block_rows}: "
                "open the data with the block size it was run with"
            )
        self.rng.bit_generator.state = state["rng"]
        self._block = None if state["block"] is None else state["block"].copy()
        self._pos = state["pos"]
        order = state.get("order")
        self._order = None if order is None else order.copy()
        self._order_pos = state.get("order_pos", 0)

    def _new_permutation(self) -> None:
        """Reshuffle: the next epoch's permutation. Blocks: the next block's rows in random order (after a new
        order of the blocks when an epoch begins)."""
        if self.kind == "reshuffle":
            self._block = self.rng.permutation(self.n)
        else:
            if self._order is None or self._order_pos >= len(self._order):
                self._order = self.rng.permutation(-(-self.n // self.block_rows))
                self._order_pos = 0
            first = int(self._order[self._order_pos]) * self.block_rows
            self._order_pos += 1
            self._block = self.rng.permutation(min(self.block_rows, self.n - first)) + first
        self._pos = 0

    def untake(self, keep: int) -> None:
        """Keep only the first `keep` batches of the last [`take`][sgdlab.engine.Sampler.take]: the sampler goes
        back to where `keep` calls of `next()` after the state before that `take` would leave it."""
        rng_state, self._block, self._pos, self._order, self._order_pos = self._before_take
        if rng_state is not None:
            self.rng.bit_generator.state = rng_state
        self.take(keep)

    def take(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The next `k` batches at once, as `(indices, offsets)`: batch `t` is `indices[offsets[t]:offsets[t + 1]]`.

        Advances the sampler exactly as `k` calls of `next()` would (same Generator calls, same blocks);
        `"full"` is not supported (it would repeat all `n` indices) and raises `ValueError`.
        """
        if self.kind == "full":
            raise ValueError("take() serves the uniform, reshuffle and blocks samplers")
        parts: list[np.ndarray] = []
        sizes: list[np.ndarray] = []
        left = int(k)
        b = self.batch_size
        # for untake: blocks and orders are replaced, never written to, so references suffice; the Generator's
        # state is read only before a draw (reading it costs more than a chunk of iterations when done every time)
        before = [None, self._block, self._pos, self._order, self._order_pos]
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
                if self._block is None or self._pos >= len(self._block):
                    if before[0] is None:
                        before[0] = self.rng.bit_generator.state
                    self._new_permutation()
                # the rest of this permutation (or block), cut into batches of b (the last one shorter)
                size = len(self._block)
                rows = min(left, -(-(size - self._pos) // b))
                ends = np.minimum(self._pos + b * np.arange(1, rows + 1, dtype=np.int64), size)
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
        if self._block is None or self._pos >= len(self._block):  # a new epoch (reshuffle) or block (blocks)
            self._new_permutation()
        idx = self._block[self._pos : self._pos + self.batch_size]
        self._pos += len(idx)
        return idx
