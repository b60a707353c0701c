"""Catalogue chapter: sgdlab.torch's optimizers called the torch way — what torch.optim refuses, refused with torch's
exception type and a message naming torch's keyword; what sgdlab's interface refuses; groups changed or loaded wrong.
"""

from __future__ import annotations

import torch

import sgdlab.torch as st
from sgdlab.methods import Momentum


def _param(dtype=torch.float64) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.ones(3, 2, dtype=dtype))


def _sparse_step(cls, dtype=torch.float64, **kwargs) -> None:
    p = _param(dtype)
    grad = torch.sparse_coo_tensor(torch.tensor([[0, 2]]), torch.ones(2, 2), (3, 2), check_invariants=True)
    p.grad = grad.to(dtype)
    cls([p], **kwargs).step()


def _step_after(change) -> None:
    p = _param()
    opt = st.Adam([p], lr=0.1)
    change(opt.param_groups[0])
    p.grad = torch.ones_like(p)
    opt.step()


def _load_lecture_state_into_torchs() -> None:
    p = _param()
    saved = st.Adam([p], lr=0.1, convention="lecture").state_dict()
    opt = st.Adam([p], lr=0.1)
    opt.load_state_dict(saved)
    p.grad = torch.ones_like(p)
    opt.step()


CASES = [
    # torch.optim's ranges and constructor checks, in its exception types, naming its keywords
    ("adam-beta1-one", lambda: st.Adam([_param()], betas=(1.0, 0.0)), ValueError, r"betas\[0\] must be in \[0, 1\)"),
    ("adam-beta2-negative", lambda: st.Adam([_param()], betas=(0.9, -0.1)), ValueError, r"betas\[1\] must be in"),
    ("adam-betas-scalar", lambda: st.Adam([_param()], betas=0.9), TypeError, "betas must be a pair"),
    ("adam-betas-mixed", lambda: st.Adam([_param()], betas=(0.9, torch.tensor(0.99))), ValueError,
     "betas must be either both floats or both Tensors"),
    ("adam-weight-decay-negative", lambda: st.Adam([_param()], weight_decay=-1), ValueError,
     "weight_decay must be >= 0, got -1"),
    ("adam-lr-negative", lambda: st.Adam([_param()], lr=-1e-3), ValueError, "lr must be >= 0, got -0.001"),
    ("adam-lr-string", lambda: st.Adam([_param()], lr="0.1"), TypeError, "Adam's lr must be a number .*got str"),
    ("adam-tensor-lr-two-elements", lambda: st.Adam([_param()], lr=torch.tensor([1e-3, 1e-3])), ValueError,
     "Tensor lr must be 1-element"),
    ("adam-tensor-lr-foreach", lambda: st.Adam([_param()], lr=torch.tensor(1e-3), foreach=True), ValueError,
     "lr as a Tensor is not supported for capturable=False and foreach=True"),
    ("adamw-tensor-betas-foreach", lambda: st.AdamW([_param()], betas=(torch.tensor(0.9), torch.tensor(0.99)),
                                                    foreach=True), ValueError,
     r"betas\[0\] as a Tensor is not supported for capturable=False and foreach=True"),
    ("adam-amsgrad-string", lambda: st.Adam([_param()], amsgrad="yes"), TypeError,
     "amsgrad must be True or False, got str"),
    ("adam-eps-zero", lambda: st.Adam([_param()], eps=0.0), ValueError, "eps must be > 0"),
    ("adagrad-lr-decay-negative", lambda: st.Adagrad([_param()], lr_decay=-0.5), ValueError,
     "lr_decay must be >= 0, got -0.5"),
    ("adagrad-initial-accumulator-negative", lambda: st.Adagrad([_param()], initial_accumulator_value=-1), ValueError,
     "initial_accumulator_value must be >= 0"),
    ("rmsprop-alpha-above-one", lambda: st.RMSprop([_param()], alpha=1.5), ValueError, r"alpha must be in \[0, 1\)"),
    ("rmsprop-momentum-negative", lambda: st.RMSprop([_param()], momentum=-1.0), ValueError,
     "momentum must be >= 0, got -1.0"),
    ("rmsprop-centered-int", lambda: st.RMSprop([_param()], centered=1), TypeError,
     "centered must be True or False, got int"),
    ("adadelta-rho-above-one", lambda: st.Adadelta([_param()], rho=1.1), ValueError, r"rho must be in \[0, 1\)"),
    ("sgd-momentum-negative", lambda: st.SGD([_param()], momentum=-0.5), ValueError, "momentum must be >= 0, got -0.5"),
    ("sgd-nesterov-dampening", lambda: st.SGD([_param()], momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "nesterov=True requires momentum > 0 and dampening = 0"),
    ("sgd-nesterov-without-momentum", lambda: st.SGD([_param()], nesterov=True), ValueError,
     "nesterov=True requires momentum > 0"),
    ("sgd-maximize-string", lambda: st.SGD([_param()], maximize="no"), TypeError, "maximize must be True or False"),
    ("sgd-too-many-positional", lambda: st.SGD([_param()], 0.1, 0.9, 0.0, 0.0, False, True), TypeError,
     r"too many positional arguments \(torch\.optim\.SGD's keywords"),
    # implementation flags: torch's combinations, and what sgdlab.torch does not implement
    ("adam-fused-and-foreach", lambda: st.Adam([_param()], fused=True, foreach=True), RuntimeError,
     "`fused` and `foreach` cannot be `True` together"),
    ("adagrad-fused-differentiable", lambda: st.Adagrad([_param()], fused=True, differentiable=True), RuntimeError,
     "`fused` does not support `differentiable`"),
    ("rmsprop-capturable", lambda: st.RMSprop([_param()], capturable=True), ValueError,
     "capturable=True is not supported"),
    ("sgd-differentiable", lambda: st.SGD([_param()], differentiable=True), ValueError,
     "differentiable=True is not supported"),
    # sparse gradients where torch.optim refuses them
    ("adam-sparse", lambda: _sparse_step(st.Adam), RuntimeError, "Adam does not support sparse gradients"),
    ("adagrad-sparse-weight-decay", lambda: _sparse_step(st.Adagrad, weight_decay=0.1), RuntimeError,
     "weight_decay option is not compatible with sparse gradients"),
    ("sgd-sparse-weight-decay", lambda: _sparse_step(st.SGD, weight_decay=0.1, momentum=0.9), RuntimeError,
     "weight_decay option is not compatible with sparse gradients"),
    ("adagrad-sparse-complex", lambda: _sparse_step(st.Adagrad, dtype=torch.complex128), RuntimeError,
     "sparse gradients of complex parameters"),
    # sgdlab's own interface
    ("adam-lecture-name-without-convention", lambda: st.Adam([_param()], beta1=0.5), TypeError,
     r"unexpected keyword argument 'beta1'.*convention='lecture'"),
    ("sgd-lecture-without-lr", lambda: st.SGD([_param()], convention="lecture"), ValueError, "SGD needs lr="),
    ("adagrad-unknown-convention", lambda: st.Adagrad([_param()], convention="pytorch"), ValueError,
     "convention must be one of 'lecture', 'torch'"),
    ("momentum-unknown-keyword", lambda: st.Momentum([_param()], lr=0.1, momentum=0.9), TypeError,
     "Momentum\\(\\) got an unexpected keyword argument 'momentum'; its hyperparameters: lr, schedule, beta"),
    ("momentum-two-positional", lambda: st.Momentum([_param()], 0.1, 0.9), TypeError,
     "takes lr as its only positional hyperparameter"),
    ("momentum-beta-one-default-lr", lambda: Momentum(beta=1.0, convention="torch").default_lr(None, 1), ValueError,
     r"\(1 − beta\)/\(2 L_b\) needs beta < 1; pass lr="),
    # groups changed after construction, or loaded from the other interface
    ("group-beta1-changed", lambda: _step_after(lambda g: g.update(betas=(1.5, 0.999))), ValueError,
     r"betas\[0\] must be in \[0, 1\), got 1.5"),
    ("group-lr-tensor-changed", lambda: _step_after(lambda g: g.update(lr=torch.ones(2))), ValueError,
     "Tensor lr must be 1-element"),
    ("group-from-the-lecture-interface", _load_lecture_state_into_torchs, ValueError,
     "param group 0 has no 'betas': it was made for another interface"),
    # not numbers where torch's defaults are: TypeError at construction, as torch's range checks raise it
    *[(f"{name.lower()}-lr-none", (lambda n: lambda: getattr(st, n)([_param()], lr=None))(name), TypeError,
       f"{name}'s lr must be a number \\(or a tensor\\), like its default")
      for name in ("Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "SGD")],
    ("adam-betas-strings", lambda: st.Adam([_param()], betas=("0.9", "0.999")), TypeError,
     r"Adam's betas must be a pair of numbers \(or of one-element tensors\), like its default \(0.9, 0.999\)"),
    ("sgd-momentum-string", lambda: st.SGD([_param()], lr=0.1, momentum="0.9"), TypeError,
     "SGD's momentum must be a number"),
]  # fmt: skip
