"""Neural networks as finite-sum problems, so the engine and every sgdlab method can train them.

``f(x) = (1/n) Σ_i ℓ(net_x(a_i), y_i)``, where ``x`` is the flattened vector of the network's parameters
(float32). Gradients come from autograd; the methods see plain NumPy vectors, exactly as for the linear
problems. The forward and backward passes flush denormal floats to zero (`denormals_flushed`). A network has
no certified optimum and no known smoothness constants: runs record the loss, ‖∇f‖² and held-out metrics, and
every method needs an explicit ``lr``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from sgdlab.data.loaders import load_bundled
from sgdlab.problems.base import Problem
from sgdlab.torch.corpus import ALPHABET, encode, stdlib_text
from sgdlab.torch.networks import MLP, CharLSTM, SmallCNN


def _flushing_denormals() -> bool:
    """Whether this thread flushes denormal floats to zero (its FTZ/DAZ flags), probed by one product."""
    return float(np.float32(1e-40) * np.float32(1.0)) == 0.0


@contextmanager
def denormals_flushed():
    """Denormal floats flushed to zero on this thread for the duration, the flags restored after.

    A network whose activations saturate (a diverging LSTM's gates) fills its tensors with denormals, and x86
    arithmetic on them is 10–100× slower: a char-LSTM run at a large step took 9.3 s instead of 0.9 s, with the
    same final loss. Values below 1.2e-38 change no loss measurably; the methods' own NumPy updates run outside
    this context and keep IEEE arithmetic. torch's intra-op worker threads keep their own flags.
    """
    if _flushing_denormals():
        yield
        return
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@dataclass(frozen=True)
class TensorData:
    """Inputs and targets as tensors, sample ``i`` being ``(inputs[i], targets[i])``."""

    inputs: torch.Tensor
    targets: torch.Tensor

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.targets) or len(self.inputs) == 0:
            raise ValueError(f"need as many inputs as targets, at least one: {len(self.inputs)} vs {len(self.targets)}")

    def __len__(self) -> int:
        return len(self.inputs)


class NetworkProblem(Problem):
    """Cross-entropy of a classifier (one label per sample) or of a language model (one label per position;
    a sample's loss is the mean over its positions). ``seed`` fixes the initial weights (``initial_point``);
    ``test``, when given, is the held-out split that belongs to the training data (``sl.run(..., test=p.test)``
    records metrics on it)."""

    has_optimum = False
    task = "classification"

    def __init__(
        self,
        make_network: Callable[[], nn.Module],
        train: TensorData,
        name: str,
        seed: int = 0,
        eval_batch: int = 512,
        test: TensorData | None = None,
    ) -> None:
        if not isinstance(train, TensorData):
            raise TypeError(f"train must be TensorData, got {type(train).__name__}")
        if test is not None and not isinstance(test, TensorData):
            raise TypeError(f"test must be TensorData or None, got {type(test).__name__}")
        self.test = test
        torch.manual_seed(seed)
        self.network = make_network().float()
        self._params = list(self.network.parameters())
        with torch.no_grad():
            self._x0 = parameters_to_vector(self._params).numpy().copy()
        self.train = train
        self.seed = seed
        self.eval_batch = eval_batch
        super().__init__(len(train), self._x0.size)
        self.name = name

    # --- parameters in and gradients out -------------------------------------------------------
    def initial_point(self) -> np.ndarray:
        return self._x0.copy()

    def _load(self, x: np.ndarray) -> None:
        with torch.no_grad():
            vector_to_parameters(torch.from_numpy(np.asarray(x, dtype=np.float32)), self._params)

    def _flat_grad(self) -> np.ndarray:
        return torch.cat([p.grad.reshape(-1) for p in self._params]).numpy()

    @staticmethod
    def _cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean over samples — and over positions, for a language model's (batch, position, class) logits."""
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def _loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self._cross_entropy(self.network(inputs), targets)

    def _batches(self, data: TensorData):
        for start in range(0, len(data), self.eval_batch):
            stop = min(start + self.eval_batch, len(data))
            yield data.inputs[start:stop], data.targets[start:stop], (stop - start) / len(data)

    # --- the oracle ------------------------------------------------------------------------------
    @denormals_flushed()  # (a context manager is also a decorator: a fresh context per call)
    def _data_loss(self, x: np.ndarray) -> float:
        self._load(x)
        with torch.no_grad():
            return float(sum(w * self._loss(a, y) for a, y, w in self._batches(self.train)))

    @denormals_flushed()
    def _data_grad(self, x: np.ndarray) -> np.ndarray:
        self._load(x)
        self.network.zero_grad(set_to_none=False)
        for a, y, w in self._batches(self.train):
            (w * self._loss(a, y)).backward()
        return self._flat_grad()

    @denormals_flushed()
    def _data_grad_batch(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        self._load(x)
        self.network.zero_grad(set_to_none=False)
        index = torch.from_numpy(np.asarray(idx))
        self._loss(self.train.inputs[index], self.train.targets[index]).backward()
        return self._flat_grad()

    def component_grads(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.stack([self._data_grad_batch(x, np.array([i])) for i in np.asarray(idx)])

    # --- what a network does not have ------------------------------------------------------------
    def _constants(self):
        raise ValueError(f"{self.name}: L, mu and L_max are unknown for a neural network; pass lr= to the method")

    @property
    def _optimum(self):
        raise ValueError(f"{self.name}: a neural network has no certified optimum (no x_star, f_star, subopt)")

    # --- held-out evaluation -----------------------------------------------------------------------
    def check_test_data(self, data: Any) -> None:
        if not isinstance(data, TensorData):
            raise TypeError(f"test must be TensorData for {self.name}, got {type(data).__name__}")

    @denormals_flushed()
    def evaluate(self, x: np.ndarray, data: TensorData) -> dict[str, float]:
        """Mean cross-entropy and accuracy (per sample for classifiers, per character for language models)."""
        self._load(x)
        loss = correct = 0.0
        with torch.no_grad():
            for a, y, w in self._batches(data):
                logits = self.network(a)
                loss += w * float(self._cross_entropy(logits, y))
                correct += w * float((logits.argmax(-1) == y).float().mean())
        return {"loss": loss, "accuracy": correct}

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, n={self.n}, dim={self.dim})"


def digits_split(test_size: float = 0.25, seed: int = 0) -> tuple[TensorData, TensorData]:
    """scikit-learn's bundled 8×8 digits, pixels scaled to [0, 1], split into train and test."""
    train, test = load_bundled("digits").split(test_size, seed=seed)
    return tuple(
        TensorData(torch.tensor(part.A / 16.0, dtype=torch.float32), torch.tensor(part.y, dtype=torch.long))
        for part in (train, test)
    )


def digits_mlp(hidden: tuple[int, ...] = (64,), seed: int = 0) -> NetworkProblem:
    """An MLP on the digits (64 → hidden → 10); its held-out split is ``.test``."""
    train, test = digits_split(seed=0)
    return NetworkProblem(lambda: MLP(64, 10, hidden), train, name="digits-MLP", seed=seed, test=test)


def digits_cnn(seed: int = 0) -> NetworkProblem:
    """A small CNN on the digits; its held-out split is ``.test``."""
    train, test = digits_split(seed=0)
    return NetworkProblem(lambda: SmallCNN(10), train, name="digits-CNN", seed=seed, test=test)


def char_lm(
    seq_len: int = 64, max_chars: int = 100_000, test_fraction: float = 0.1, hidden: int = 128, seed: int = 0
) -> NetworkProblem:
    """A character-level LSTM language model on Python's standard-library sources; its held-out text is ``.test``.

    The text is cut into non-overlapping windows of ``seq_len + 1`` characters; each window is one sample
    (predict characters 2..T+1 from 1..T). The last ``test_fraction`` of the text is held out.
    """
    codes = torch.from_numpy(encode(stdlib_text(max_chars)))
    windows = codes[: (len(codes) // (seq_len + 1)) * (seq_len + 1)].reshape(-1, seq_len + 1)
    n_test = max(1, round(test_fraction * len(windows)))
    train, test = (
        TensorData(w[:, :-1].contiguous(), w[:, 1:].contiguous()) for w in (windows[:-n_test], windows[-n_test:])
    )
    return NetworkProblem(lambda: CharLSTM(len(ALPHABET), hidden=hidden), train, name="stdlib-charLSTM", seed=seed,
                          test=test)  # fmt: skip
