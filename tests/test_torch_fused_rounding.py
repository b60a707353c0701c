"""`sgdlab.torch.X(..., fused=True)` rounds as `torch.optim.X(..., fused=True)`: the methods' `rounding="fused"`
kernels against torch's fused CPU kernels, element by element, over 50 steps of tensors whose sizes leave scalar
tails of every kind (`fused.lanes`, `fused.TAIL_BYTES`: none, scalars only, 32-byte vectors and scalars, a whole
tensor of one element) and whose sum stays on one thread."""

from __future__ import annotations

import pytest
import torch

import sgdlab.torch as st
from sgdlab.methods import SGD, Adagrad, Adam, Momentum, fused

SIZES = (1, 7, 16, 33, 45, 1000, 4099)
CONFIGS = [
    ("Adam", {}),
    ("Adam", {"weight_decay": 0.1}),
    ("Adam", {"amsgrad": True, "maximize": True, "weight_decay": 0.1}),
    ("Adam", {"betas": (0.3, 0.9)}),
    ("AdamW", {}),
    ("AdamW", {"amsgrad": True}),
    ("AdamW", {"maximize": True, "weight_decay": 0.3}),
    ("SGD", {"lr": 0.01}),
    ("SGD", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.01, "momentum": 0.9}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adagrad", {}),
    ("Adagrad", {"weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {"initial_accumulator_value": 0.1}),
    ("Adagrad", {"lr_decay": 0.01}),
    ("Adagrad", {"lr_decay": 0.05, "weight_decay": 0.1}),
]
# torch's x86 AVX2/AVX-512 kernels fuse multiply-adds as the "fused" rounding does; elsewhere (DEFAULT: no FMA,
# other architectures) they round differently and the kernels agree to rounding only
EXACT = torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
TOLERANCE = {torch.float32: 1e-6, torch.float64: 1e-12}


def run(name, kw, dtype, steps=50):
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(n, dtype=dtype, generator=gen) for n in SIZES]
    ours = [p.clone().requires_grad_() for p in start]
    theirs = [p.clone().requires_grad_() for p in start]
    a, b = getattr(st, name)(ours, fused=True, **kw), getattr(torch.optim, name)(theirs, fused=True, **kw)
    for _ in range(steps):
        for p, q in zip(ours, theirs, strict=True):
            p.grad = torch.randn(p.shape, dtype=dtype, generator=gen)
            q.grad = p.grad.clone()
        a.step()
        b.step()
    return torch.cat(ours).detach(), torch.cat(theirs).detach()


@pytest.mark.parametrize(("name", "kw"), CONFIGS, ids=[f"{n}-{kw}" for n, kw in CONFIGS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_fused_true_rounds_as_torch_fused(name, kw, dtype):
    ours, theirs = run(name, kw, dtype)
    torch.testing.assert_close(ours, theirs, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    if EXACT:  # the same roundings: every element identical (the foreach rounding: about a third differ)
        assert (ours != theirs).sum().item() == 0


SPLIT_CONFIGS = [("SGD", {"lr": 0.01, "momentum": 0.9}), ("Adam", {}), ("AdamW", {"amsgrad": True}), ("Adagrad", {})]


@pytest.mark.parametrize(("name", "kw"), SPLIT_CONFIGS, ids=[f"{n}-{kw}" for n, kw in SPLIT_CONFIGS])
def test_a_group_split_over_threads_rounds_as_torch_fused(name, kw, monkeypatch):
    # the fast path cuts a big group into chunks at multiples of 16 elements of a tensor, so every piece's vector
    # body and scalar tail are the whole tensor's: the same bits on two threads as on one
    from sgdlab.torch import fast_path

    monkeypatch.setattr(fast_path, "PARALLEL_MIN", 1)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ours, theirs = run(name, kw, torch.float32, steps=5)
    finally:
        torch.set_num_threads(previous)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    if EXACT:
        assert (ours != theirs).sum().item() == 0


def test_fused_keyword_sets_the_rounding():
    p = [torch.zeros(3, requires_grad=True)]
    for cls, kw in ((st.Adam, {}), (st.AdamW, {}), (st.SGD, {"lr": 0.1}), (st.SGD, {"lr": 0.1, "momentum": 0.9}),
                    (st.Adagrad, {})):  # fmt: skip
        on, off = cls(p, fused=True, **kw), cls(p, **kw)
        assert on._method_for(0, on.param_groups[0])[0].rounding == "fused"
        assert off._method_for(0, off.param_groups[0])[0].rounding == "foreach"


@pytest.mark.parametrize("cls", [Adam, SGD, Momentum, Adagrad])
def test_rounding_is_checked(cls):
    with pytest.raises(ValueError, match="rounding"):
        cls(lr=0.1, rounding="exact")
    assert fused.lanes("foreach") == 0 and fused.lanes("fused") in (32, 64)
