"""The method table: one row per method, from which every generic method test is parametrised (as torch's optim_db).

A row gives the method's class, a few constructor configurations, an independent transcription of its formula
(element-wise methods), its documented default step size, and hyperparameters it must refuse (with the error's type
and message). What the method can do is read from its class's `MethodInfo` (`capabilities`), and
``test_methods.py`` checks that the table has a row for every method of the registry, so a new method gets every
generic test by adding its row:

* ``test_method_formulas.py`` — each ``STEP`` configuration against the row's reference (float64, float32,
  schedules, properties);
* ``test_fused.py`` — fused kernel = reference formula, for rows with a fused kernel;
* ``test_compiled.py`` — compiled segments = Python engine, for the ``COMPILED`` configurations;
* ``test_torch_optim.py`` — ``sgdlab.torch`` = the NumPy method (every ``STEP`` configuration of a row with a torch
  optimizer), = torch.optim where a configuration names the counterpart's kwargs (``torch_optim``);
* ``test_methods.py`` / ``test_bad_input.py`` / ``test_torch_optim.py`` — the bad hyperparameters; checkpoints
  (resume) and default step sizes for every row.

References (float64) are written from the update rules as stated in the lecture and the papers, not from the
implementation. Each is a generator: given the hyperparameters, the initial iterate, the gradient sequence and the
step sizes ``α_k``, it yields the iterate and the state arrays after every step. Notation (k counts from 1):

* torch's gradient (every method with these options): g ← −g if maximize, then g ← g + λ x (weight_decay λ)
* SGD / GD:   x ← x − α g
* Momentum:   v ← β v + (1−d) g;  x ← x − α v          Nesterov: x ← x − α (g + β v)
              (torch: v ← g at k = 1; d = dampening)
* Adagrad:    v ← v + g² (v starts at initial_accumulator_value);  x ← x − α_k g / sqrt(v + ε)
              (torch: sqrt(v) + ε), α_k = α / (1 + (k−1) lr_decay)
* RMSProp:    v ← γ v + (1−γ) g²;  x ← x − α g / sqrt(v + ε)  (torch: sqrt(v) + ε);
              centered: ḡ ← ḡ + (1−γ)(g − ḡ) and v − ḡ² in place of v;  momentum μ: b ← μ b + g / d;  x ← x − α b
* Adadelta:   v ← γ v + (1−γ) g²;  g̃ = sqrt(Δx + ε)/sqrt(v + ε)·g;  x ← x − α g̃;  Δx ← ρ Δx + (1−ρ) g̃²
* Adam:       g ← g + λ x (if λ > 0);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
              x ← x − α m̂/(sqrt(v̂) + ε)  with  m̂ = m/(1−β1^k),  v̂ = v/(1−β2^k)
* AMSGrad:    as Adam with v̂max ← max(v̂max, v̂) in the denominator (Adam's amsgrad)
              (torch: vmax ← max(vmax, v) of the raw v, denominator sqrt(vmax/(1−β2^k)) + ε)
* AdamW:      moments of the plain g;  x ← x − α (m̂/(sqrt(v̂) + ε) + λ x_prev) (Adam's decoupled_weight_decay)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import sgdlab.methods as M
from sgdlab.methods import StepDecay, Warmup

STEP = "step"  # a bare step: formulas, fused = reference, torch = NumPy
COMPILED = "compiled"  # a run on a GLM: compiled = Python engine


@dataclasses.dataclass(frozen=True)
class Config:
    """Constructor kwargs under an id; ``use`` says which generic tests run it; ``torch_optim`` the kwargs of the
    row's torch.optim counterpart (``info.torch``) that implement this very configuration, if any."""

    id: str
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    use: tuple[str, ...] = (STEP,)
    torch_optim: dict[str, Any] | None = None
    schedule: Callable[[], Any] | None = None  # built fresh per run (a schedule object is stateless but mutable)

    def make(self, cls):
        kwargs = self.kwargs if self.schedule is None else {**self.kwargs, "schedule": self.schedule()}
        return cls(**kwargs)


@dataclasses.dataclass(frozen=True)
class BadInput:
    """Hyperparameters the constructor must refuse, with the error's type and a regex of its message."""

    kwargs: dict[str, Any]
    error: type[Exception]
    match: str


@dataclasses.dataclass(frozen=True)
class MethodRow:
    cls: type[M.Method]
    configs: tuple[Config, ...]
    reference: Callable[..., Iterator[tuple[np.ndarray, dict]]] | None = None
    default_lr: Callable[[Any], float] | None = None  # the documented default step size on a problem
    errors: tuple[BadInput, ...] = ()
    #: Epochs in which the defaults remove 30 % of a well-conditioned logistic problem's suboptimality.
    default_epochs: float = 5
    #: Hyperparameters with which 150 steps train a small network (`sgdlab.torch`; ``{}``: the defaults).
    train_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.cls.__name__

    @property
    def capabilities(self) -> frozenset[str]:
        """What the registry says this method has: ``elementwise``, ``full_batch``, ``fused``, ``compiled``,
        ``torch_optim`` (a counterpart in torch.optim), ``torch`` (an `sgdlab.torch` optimizer)."""
        info = self.cls.info
        flags = {
            "elementwise": info.elementwise,
            "full_batch": info.full_batch,
            "fused": info.fused is not None,
            "compiled": info.compiled is not None,
            "torch_optim": info.torch is not None,
            "torch": info.elementwise and not info.full_batch,
        }
        return frozenset(name for name, on in flags.items() if on)


# --- independent references (float64) ---------------------------------------------------------------


def torch_gradient(hp, x, g, decay=True):
    """−g when maximizing, then + λx (``decay``: the weight decay is coupled)."""
    g = -g if hp.get("maximize") else g
    lam = hp.get("weight_decay", 0.0) if decay else 0.0
    return g + lam * x if lam else g


def ref_sgd(hp, x, grads, alphas):
    x = np.array(x, dtype=np.float64)
    for g, a in zip(grads, alphas, strict=True):
        x = x - a * torch_gradient(hp, x, g)
        yield x, {}


def ref_momentum(hp, x, grads, alphas, nesterov=False):
    beta, d, torch = hp["beta"], hp.get("dampening", 0.0), hp.get("convention") == "torch"
    x = np.array(x, dtype=np.float64)
    v = np.zeros_like(x)
    for k, (g, a) in enumerate(zip(grads, alphas, strict=True), start=1):
        g = torch_gradient(hp, x, g)
        v = g.copy() if torch and k == 1 else beta * v + (1.0 - d) * g
        x = x - a * (g + beta * v) if nesterov else x - a * v
        yield x, {"v": v}


def ref_nesterov(hp, x, grads, alphas):
    return ref_momentum(hp, x, grads, alphas, nesterov=True)


def ref_diagonal(hp, x, grads, alphas):
    """Adagrad (no ``gamma``: a running sum) and RMSProp."""
    gamma, eps, torch = hp.get("gamma"), hp["eps"], hp["convention"] == "torch"
    centered, mu, decay = hp.get("centered", False), hp.get("momentum", 0.0), hp.get("lr_decay", 0.0)
    x = np.array(x, dtype=np.float64)
    v = np.full_like(x, hp.get("initial_accumulator_value", 0.0))
    mean, buf = np.zeros_like(x), np.zeros_like(x)
    for k, (g, a) in enumerate(zip(grads, alphas, strict=True), start=1):
        g = torch_gradient(hp, x, g)
        v = v + g * g if gamma is None else gamma * v + (1.0 - gamma) * g * g
        s = v
        if centered:  # ḡ + (1−γ)(g − ḡ): as γ ḡ + (1−γ) g, in the rounding v − ḡ² amplifies where g barely varies
            mean = mean + (1.0 - gamma) * (g - mean)
            s = v - mean * mean
        denom = np.sqrt(s) + eps if torch else np.sqrt(s + eps)
        a = a / (1.0 + (k - 1) * decay)
        if mu > 0:
            buf = mu * buf + g / denom
            x = x - a * buf
        else:
            x = x - a * g / denom
        yield x, {"v": v, **({"gbar": mean} if centered else {}), **({"buf": buf} if mu > 0 else {})}


def ref_adadelta(hp, x, grads, alphas):
    gamma, rho, eps = hp["gamma"], hp["rho"], hp["eps"]
    x = np.array(x, dtype=np.float64)
    v = np.zeros_like(x)
    dx = np.zeros_like(x)
    for g, a in zip(grads, alphas, strict=True):
        g = torch_gradient(hp, x, g)
        v = gamma * v + (1.0 - gamma) * g * g
        g_tilde = np.sqrt(dx + eps) / np.sqrt(v + eps) * g
        x = x - a * g_tilde
        dx = rho * dx + (1.0 - rho) * g_tilde * g_tilde
        yield x, {"v": v, "dx": dx}


def ref_adam(hp, x, grads, alphas):
    """Adam, AMSGrad (``amsgrad``) and AdamW (``decoupled_weight_decay``)."""
    beta1, beta2, eps, lam = hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"]
    amsgrad, decoupled, torch = hp["amsgrad"], hp["decoupled_weight_decay"], hp.get("convention") == "torch"
    x = np.array(x, dtype=np.float64)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    vmax = np.zeros_like(x)
    for k, (g, a) in enumerate(zip(grads, alphas, strict=True), start=1):
        x_prev = x
        g = torch_gradient(hp, x_prev, g, decay=not decoupled)
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * g * g
        m_hat = m / (1.0 - beta1**k)
        v_hat = v / (1.0 - beta2**k)
        if amsgrad and torch:
            vmax = np.maximum(vmax, v)
            denom = np.sqrt(vmax / (1.0 - beta2**k)) + eps
        elif amsgrad:
            vmax = np.maximum(vmax, v_hat)
            denom = np.sqrt(vmax) + eps
        else:
            denom = np.sqrt(v_hat) + eps
        direction = m_hat / denom
        if decoupled:
            direction = direction + lam * x_prev
        x = x_prev - a * direction
        yield x, ({"m": m, "v": v, "vmax": vmax} if amsgrad else {"m": m, "v": v})


ref_amsgrad = ref_adamw = ref_adam


def ref_lion(hp, x, grads, alphas):
    """Lion: c = β1 m + (1−β1) g;  x ← x − α (sign(c) + λ x_prev);  m ← β2 m + (1−β2) g   (sign(0) = 0)."""
    beta1, beta2, lam = hp["beta1"], hp["beta2"], hp["weight_decay"]
    x = np.array(x, dtype=np.float64)
    m = np.zeros_like(x)
    for g, a in zip(grads, alphas, strict=True):
        x = x - a * (np.sign(beta1 * m + (1.0 - beta1) * g) + lam * x)
        m = beta2 * m + (1.0 - beta2) * g
        yield x, {"m": m}


# --- the table --------------------------------------------------------------------------------------

ADAM_HP = {"lr": 0.05, "beta1": 0.85, "beta2": 0.99, "eps": 1e-7}
# (test_bad_input's catalogue holds these: its size is stated in RELIABILITY.md and README.md)
ADAM_ERRORS = (BadInput({"beta1": 1.0}, ValueError, "beta1 must be in"),
               BadInput({"eps": -1e-8}, ValueError, "eps must be > 0"),
               BadInput({"lr": float("nan")}, ValueError, "lr must be finite"),
               BadInput({"lr": "0.1"}, TypeError, "lr must be a real number"),
               BadInput({"weight_decay": float("inf")}, ValueError, "weight_decay must be finite"))  # fmt: skip
CONVENTION = (BadInput({"convention": "pytorch"}, ValueError, "convention must be one of"),
              BadInput({"convention": None}, ValueError, "convention must be one of"))  # fmt: skip
LR = (BadInput({"lr": 0.0}, ValueError, "lr must be > 0"), BadInput({"lr": -1e-3}, ValueError, "lr must be > 0"))


def _L_b_inverse(scale):
    return lambda p: scale / (2 * p.L_max)  # batch size 1: L_b = L_max


# fmt: off
ROWS: tuple[MethodRow, ...] = (
    MethodRow(
        M.GD,
        (Config("GD-constant", {"lr": 0.05, "line_search": None}),),
        ref_sgd,
        lambda p: 1 / p.L,
        (BadInput({"line_search": "wolfe"}, ValueError, "line_search must be one of"),
         BadInput({"c": 0.0}, ValueError, r"c must be in \(0, 1\)"),
         BadInput({"shrink": 1.0}, ValueError, "shrink must be in")),
    ),
    MethodRow(
        M.SGD,
        (Config("SGD-lr", {"lr": 0.05}, torch_optim={"lr": 0.05}),
         Config("SGD-torch-options", {"lr": 0.05, "weight_decay": 0.1, "maximize": True, "convention": "torch"},
                torch_optim={"lr": 0.05, "weight_decay": 0.1, "maximize": True}),
         Config("SGD", use=(COMPILED,)),
         Config("SGD-decay", {"weight_decay": 0.05}, use=(COMPILED,)),
         Config("SGD-1/k", {"lr": 0.2, "schedule": "1/k"}, use=(COMPILED,)),
         Config("SGD-step-warmup", {"lr": 0.1}, use=(COMPILED,),
                schedule=lambda: Warmup(steps=20, then=StepDecay(every=50, factor=0.5))),
         Config("SGD-cosine", {"lr": 0.1, "schedule": "cosine"}, use=(COMPILED,))),
        ref_sgd,
        _L_b_inverse(1.0),
        (*LR, BadInput({"schedule": "exponential"}, ValueError, "schedule must be"),
         BadInput({"lr": -0.1, "convention": "torch"}, ValueError, "lr must be >= 0"),
         BadInput({"maximize": 1}, TypeError, "maximize must be True or False, got int"),
         BadInput({"weight_decay": -0.1}, ValueError, "weight_decay must be >= 0")),
        train_kwargs={"lr": 0.05},
    ),
    MethodRow(
        M.Momentum,
        (Config("Momentum-lr", {"lr": 0.05, "beta": 0.8}, torch_optim={"lr": 0.05, "momentum": 0.8}),
         Config("Momentum-default-beta", {"lr": 0.05}),
         Config("Momentum-torch-dampening",
                {"lr": 0.05, "beta": 0.9, "dampening": 0.5, "weight_decay": 0.1, "convention": "torch"},
                torch_optim={"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}),
         Config("Momentum-lecture-dampening-maximize", {"lr": 0.05, "beta": 0.8, "dampening": 0.3, "maximize": True}),
         Config("Momentum-torch-beta-1", {"lr": 0.01, "beta": 1.0, "convention": "torch"},
                torch_optim={"lr": 0.01, "momentum": 1.0}),
         Config("Momentum", use=(COMPILED,)),
         Config("Momentum-torch", {"dampening": 0.5, "weight_decay": 0.01, "convention": "torch"}, use=(COMPILED,))),
        ref_momentum,
        _L_b_inverse(0.1),
        (BadInput({"beta": 1.0}, ValueError, r"beta must be in \[0, 1\)"),
         BadInput({"beta": True}, TypeError, "beta must be a real number"),
         BadInput({"beta": -0.5, "convention": "torch"}, ValueError, "beta must be >= 0"),
         BadInput({"dampening": 1.5}, ValueError, r"dampening must be in \[0, 1\]")),
        train_kwargs={"lr": 0.05},
    ),
    MethodRow(
        M.Nesterov,
        (Config("Nesterov-lr", {"lr": 0.05, "beta": 0.8}, torch_optim={"lr": 0.05, "momentum": 0.8, "nesterov": True}),
         Config("Nesterov-default-beta", {"lr": 0.05}),
         Config("Nesterov-torch", {"lr": 0.05, "weight_decay": 0.1, "maximize": True, "convention": "torch"},
                torch_optim={"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True}),
         Config("Nesterov", use=(COMPILED,))),
        ref_nesterov,
        _L_b_inverse(0.1),
        (BadInput({"beta": -0.1}, ValueError, "beta must be in"),
         BadInput({"dampening": 0.5}, ValueError, "dampening must be 0 for Nesterov momentum")),
        train_kwargs={"lr": 0.05},
    ),
    MethodRow(
        M.Adagrad,
        (Config("Adagrad-lecture", {"lr": 0.05, "eps": 1e-7}),
         Config("Adagrad-torch-eps", {"lr": 0.05, "eps": 1e-7, "convention": "torch"},
                torch_optim={"lr": 0.05, "eps": 1e-7}),
         Config("Adagrad-torch-options", {"lr": 0.1, "eps": 1e-10, "lr_decay": 0.5, "initial_accumulator_value": 0.1,
                                          "weight_decay": 0.1, "maximize": True, "convention": "torch"},
                torch_optim={"lr": 0.1, "eps": 1e-10, "lr_decay": 0.5, "initial_accumulator_value": 0.1,
                             "weight_decay": 0.1, "maximize": True}),
         Config("Adagrad-lecture-options",
                {"lr": 0.05, "eps": 1e-7, "lr_decay": 0.1, "initial_accumulator_value": 0.5}),
         Config("Adagrad-default"),
         Config("Adagrad", {"lr": 0.1}, use=(COMPILED,)),
         Config("Adagrad-torch", {"lr": 0.1, "convention": "torch"}, use=(COMPILED,)),
         Config("Adagrad-torch-options", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1,
                                          "weight_decay": 0.01, "convention": "torch"}, use=(COMPILED,))),
        ref_diagonal,
        lambda p: 0.01,
        (BadInput({"eps": -1.0}, ValueError, "eps must be > 0"), CONVENTION[0],
         BadInput({"lr_decay": -0.5}, ValueError, "lr_decay must be >= 0"),
         BadInput({"initial_accumulator_value": -1.0}, ValueError, "initial_accumulator_value must be >= 0")),
    ),
    MethodRow(
        M.RMSProp,
        (Config("RMSProp-lecture", {"lr": 0.05, "gamma": 0.85, "eps": 1e-7}),
         Config("RMSProp-torch-lr", {"lr": 0.05, "gamma": 0.85, "eps": 1e-7, "convention": "torch"},
                torch_optim={"lr": 0.05, "alpha": 0.85, "eps": 1e-7}),
         Config("RMSProp-torch-agreement", {"lr": 0.01, "gamma": 0.85, "eps": 1e-7, "convention": "torch"},
                torch_optim={"lr": 0.01, "alpha": 0.85, "eps": 1e-7}),
         Config("RMSProp-torch-centered-momentum",
                {"lr": 0.01, "gamma": 0.85, "eps": 1e-7, "centered": True, "momentum": 0.5, "maximize": True,
                 "convention": "torch"},  # (with weight decay, the always-zero coordinate's variance is ~0: ill-posed)
                torch_optim={"lr": 0.01, "alpha": 0.85, "eps": 1e-7, "centered": True, "momentum": 0.5,
                             "maximize": True}),
         Config("RMSProp-lecture-centered", {"lr": 0.01, "gamma": 0.9, "centered": True}),
         Config("RMSProp-momentum-decay", {"lr": 0.01, "gamma": 0.9, "momentum": 0.9, "weight_decay": 0.01}),
         Config("RMSProp-default"),
         Config("RMSProp", {"lr": 0.01}, use=(COMPILED,)),
         Config("RMSProp-torch-centered-momentum", {"lr": 0.01, "centered": True, "momentum": 0.5,
                                                    "weight_decay": 0.01, "convention": "torch"}, use=(COMPILED,))),
        ref_diagonal,
        lambda p: 1e-3,
        (BadInput({"gamma": 1.0}, ValueError, "gamma must be in"),
         BadInput({"momentum": -1.0}, ValueError, "momentum must be >= 0"),
         BadInput({"centered": 1}, TypeError, "centered must be True or False")),
    ),
    MethodRow(
        M.Adadelta,
        (Config("Adadelta-decays", {"gamma": 0.85, "rho": 0.9, "eps": 1e-7}),
         Config("Adadelta-lr", {"lr": 0.5, "gamma": 0.85, "rho": 0.9, "eps": 1e-7}),
         Config("Adadelta-agreement", {"lr": 0.7, "gamma": 0.9, "rho": 0.9, "eps": 1e-6},
                torch_optim={"lr": 0.7, "rho": 0.9, "eps": 1e-6}),
         Config("Adadelta-torch-options", {"lr": 0.5, "gamma": 0.9, "rho": 0.9, "weight_decay": 0.1, "maximize": True,
                                           "convention": "torch"},
                torch_optim={"lr": 0.5, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.1, "maximize": True}),
         Config("Adadelta-default"),
         Config("Adadelta", use=(COMPILED,)),
         Config("Adadelta-decay", {"weight_decay": 0.01}, use=(COMPILED,))),
        ref_adadelta,
        lambda p: 1.0,
        (BadInput({"rho": 1.2}, ValueError, "rho must be in"),
         BadInput({"gamma": -0.1}, ValueError, "gamma must be in"),
         BadInput({"eps": 0.0}, ValueError, "eps must be > 0")),
    ),
    MethodRow(
        M.Adam,
        (Config("Adam-hp", ADAM_HP),
         Config("Adam-L2-hp", {**ADAM_HP, "weight_decay": 0.03}),
         Config("Adam-agreement", {"lr": 0.01, "beta1": 0.85, "beta2": 0.99, "eps": 1e-7},
                torch_optim={"lr": 0.01, "betas": (0.85, 0.99), "eps": 1e-7}),
         Config("Adam-L2", {"lr": 0.01, "weight_decay": 0.03}, torch_optim={"lr": 0.01, "weight_decay": 0.03}),
         Config("Adam-torch-options", {"lr": 0.01, "beta1": 0.85, "beta2": 0.99, "weight_decay": 0.1, "amsgrad": True,
                                       "maximize": True, "convention": "torch"},
                torch_optim={"lr": 0.01, "betas": (0.85, 0.99), "weight_decay": 0.1, "amsgrad": True,
                             "maximize": True}),
         Config("Adam-decoupled", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
                torch_optim={"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
         Config("Adam-default"),
         Config("Adam", {"lr": 0.02, "weight_decay": 1e-3}, use=(COMPILED,)),
         Config("Adam-amsgrad-decoupled", {"lr": 0.02, "weight_decay": 1e-3, "amsgrad": True,
                                           "decoupled_weight_decay": True, "convention": "torch"}, use=(COMPILED,))),
        ref_adam,
        lambda p: 1e-3,
        (*ADAM_ERRORS,
         BadInput({"amsgrad": "yes"}, TypeError, "amsgrad must be True or False, got str"),
         BadInput({"maximize": None}, TypeError, "maximize must be True or False, got NoneType")),
    ),
    MethodRow(
        M.AMSGrad,
        (Config("AMSGrad-lecture", ADAM_HP),
         Config("AMSGrad-torch-hp", {**ADAM_HP, "convention": "torch"}),
         Config("AMSGrad-torch-agreement", {"lr": 0.01, "beta2": 0.99, "convention": "torch"},
                torch_optim={"lr": 0.01, "betas": (0.9, 0.99), "amsgrad": True}),
         Config("AMSGrad-L2", {**ADAM_HP, "weight_decay": 0.03}),
         Config("AMSGrad-default"),
         Config("AMSGrad", {"lr": 0.02}, use=(COMPILED,)),
         Config("AMSGrad-torch", {"lr": 0.02, "convention": "torch"}, use=(COMPILED,))),
        ref_amsgrad,
        lambda p: 1e-3,
        (BadInput({"beta2": 1.5}, ValueError, "beta2 must be in"), CONVENTION[1],
         BadInput({"amsgrad": False}, ValueError, "amsgrad must be True for AMSGrad")),
    ),
    MethodRow(
        M.AdamW,
        (Config("AdamW-hp", {**ADAM_HP, "weight_decay": 0.03}),
         Config("AdamW-no-decay", {**ADAM_HP, "weight_decay": 0.0}),
         Config("AdamW-agreement", {"lr": 0.01, "weight_decay": 0.05}, torch_optim={"lr": 0.01, "weight_decay": 0.05}),
         Config("AdamW-amsgrad-maximize", {"lr": 0.01, "weight_decay": 0.05, "amsgrad": True, "maximize": True,
                                           "convention": "torch"},
                torch_optim={"lr": 0.01, "weight_decay": 0.05, "amsgrad": True, "maximize": True}),
         Config("AdamW-default"),
         Config("AdamW", {"lr": 0.02}, use=(COMPILED,))),
        ref_adamw,
        lambda p: 1e-3,
        (BadInput({"beta2": -0.5}, ValueError, "beta2 must be in"),
         BadInput({"weight_decay": -0.01}, ValueError, "weight_decay must be >= 0"),
         BadInput({"decoupled_weight_decay": False}, ValueError, "decoupled_weight_decay must be True for AdamW")),
    ),
    MethodRow(
        M.Lion,
        (Config("Lion-hp", {"lr": 0.01, "beta1": 0.8, "beta2": 0.95}),
         Config("Lion-decay", {"lr": 0.01, "weight_decay": 0.1}),
         Config("Lion-default"),
         Config("Lion", {"lr": 0.01, "weight_decay": 1e-3}, use=(COMPILED,))),
        ref_lion,
        lambda p: 1e-4,
        (BadInput({"beta1": 1.0}, ValueError, "beta1 must be in"),
         BadInput({"beta2": -0.1}, ValueError, "beta2 must be in"),
         BadInput({"weight_decay": -1.0}, ValueError, "weight_decay must be >= 0")),
        default_epochs=8,  # the paper's lr = 1e-4 (Adam's / 10) removes 28 % in 5 epochs, 40 % in 8
        train_kwargs={"lr": 1e-3},
    ),
    MethodRow(M.SAG, (Config("SAG", use=(COMPILED,)),), default_lr=lambda p: 1 / (16 * p.L_max)),
    MethodRow(M.SAGA, (Config("SAGA", use=(COMPILED,)),), default_lr=lambda p: 1 / (3 * p.L_max)),
    MethodRow(
        M.SVRG,
        (Config("SVRG", use=(COMPILED,)),),
        default_lr=lambda p: 1 / (10 * p.L_max),
        errors=(BadInput({"inner": 0}, ValueError, "inner must be >= 1"),),
    ),
    MethodRow(
        M.SLBFGS,
        (Config("SLBFGS", {"lr": 0.5}),),
        default_lr=lambda p: 0.5,
        errors=(BadInput({"memory": 0}, ValueError, "memory must be >= 1"),
                BadInput({"memory": 2.5}, TypeError, "memory must be an integer"),
                BadInput({"eps": -1e-8}, ValueError, "eps must be >= 0"),
                BadInput({"damping": -0.1}, ValueError, "damping must be >= 0"),
                BadInput({"damping": float("nan")}, ValueError, "damping must be finite"),
                BadInput({"lr": 0.0}, ValueError, "lr must be > 0")),
    ),
)
# fmt: on
BY_NAME = {row.name: row for row in ROWS}


def cases(use: str, *, needs: str | None = None, torch_optim: bool = False) -> list:
    """``pytest.param(row, config)`` for every configuration marked ``use`` of a row that has capability ``needs``
    (and, with ``torch_optim``, names the counterpart's kwargs), with the config's id."""
    return [
        pytest.param(row, config, id=config.id)
        for row in ROWS
        if needs is None or needs in row.capabilities
        for config in row.configs
        if use in config.use and (not torch_optim or config.torch_optim is not None)
    ]


def factories(use: str, *, needs: str | None = None) -> dict[str, Callable[[], M.Method]]:
    """A fresh method per call, by configuration id, for the configurations that :func:`cases` selects."""
    return {p.id: functools.partial(p.values[1].make, p.values[0].cls) for p in cases(use, needs=needs)}


def references() -> list:
    """``pytest.param(cls, kwargs, reference)`` for the STEP configurations of rows with a reference formula."""
    return [pytest.param(row.cls, config.kwargs, row.reference, id=config.id)
            for row in ROWS if row.reference for config in row.configs if STEP in config.use]  # fmt: skip


def bad_hyperparameters() -> list[tuple[Callable[[], Any], type[Exception], str]]:
    """``(make, error type, message regex)`` for every row's bad inputs."""
    return [(lambda r=row, b=bad: r.cls(**b.kwargs), bad.error, bad.match) for row in ROWS for bad in row.errors]
