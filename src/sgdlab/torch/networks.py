"""Small networks for the lab's vision and language experiments (CPU-friendly sizes)."""

from __future__ import annotations

import itertools

import torch
from torch import nn


class MLP(nn.Sequential):
    """``in → hidden → … → out`` with ReLU between the linear layers."""

    def __init__(self, n_in: int, n_out: int, hidden: tuple[int, ...] = (64,)) -> None:
        sizes = (n_in, *hidden)
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        super().__init__(*layers, nn.Linear(sizes[-1], n_out))


class SmallCNN(nn.Module):
    """Two 3×3 convolutions (8 and 16 channels), 2×2 max-pooling, a linear classifier; for 8×8 digit images."""

    def __init__(self, n_out: int = 10, side: int = 8) -> None:
        super().__init__()
        self.side = side
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.classifier = nn.Linear(16 * (side // 2) ** 2, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, 1, self.side, self.side)
        return self.classifier(self.features(x).flatten(1))


class CharLSTM(nn.Module):
    """Character-level language model: embedding → one LSTM layer → next-character logits at every position."""

    def __init__(self, vocab: int, embed: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out)
