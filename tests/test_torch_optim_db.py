"""sgdlab.torch as a drop-in for torch.optim, driven by torch's own optimizer test table.

``torch.testing._internal.common_optimizers.optim_db`` (shipped with the installed torch) lists, for each optimizer,
the constructor configurations its tests run (``optim_inputs_func``) and the inputs it must refuse
(``optim_error_inputs_func``). For the six counterparts (Adam, AdamW, Adagrad, RMSprop, Adadelta, SGD), every CPU
configuration runs here in float64 and float32 against torch.optim, and the behaviours torch's generic optimizer
tests check run on sgdlab.torch: state dicts (deep-copied, saved earlier, through ``torch.save``/``torch.load``),
param groups, hooks, closures, ``zero_grad``, missing gradients, non-contiguous, complex and sparse parameters,
tensor ``lr``, every learning-rate scheduler.

Tolerances: float64 agrees to ``1e-12`` relative (the largest entry's difference over the largest entry) after 200
steps: the two sides evaluate the same formula with operations grouped differently (``lerp`` for ``β m + (1−β) g``,
``√v/√(1−β₂ᵏ)`` for ``√(v/(1−β₂ᵏ))``, fused multiply-adds), a few ulps (~1e-16) per step that the contracting
recursions do not amplify; measured ≤ 1e-14 (AdamW). float32 carries the same differences at float32's ulp (6e-8):
after 200 steps they stay within ``F32_RTOL = 1e-5`` (measured ≤ 4.9e-6 for AdamW, ≤ 1.5e-7 for the others),
~100× below what a wrong coefficient gives.
"""

from __future__ import annotations

import copy
import inspect
import io

import numpy as np
import pytest
import torch
import torch.testing._internal.common_optimizers as common
from torch.optim import lr_scheduler, swa_utils

import sgdlab.torch as st

setattr(torch.backends, "__allow_nonbracketed_mutation_flag", True)  # importing torch's test helpers froze them

COUNTERPARTS = ("Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "SGD")
INFOS = {info.optim_cls.__name__: info for info in common.optim_db if info.optim_cls.__name__ in COUNTERPARTS}
DTYPES = {"float64": torch.float64, "float32": torch.float32}
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5, torch.complex128: 1e-12}
F32_RTOL = TOLERANCE[torch.float32]
STEPS = 200
SHAPES = ((5, 4), (4,))


def configurations(dtype: torch.dtype) -> list:
    """``(name, kwargs)`` for every CPU configuration of the six counterparts, with torch's descriptions as ids."""
    return [
        pytest.param(name, entry.kwargs, id=f"{name}-{entry.desc.replace(' ', '_')}")
        for name in COUNTERPARTS
        for entry in INFOS[name].optim_inputs_func(device="cpu", dtype=dtype)
    ]


CONFIGS = {label: configurations(dtype) for label, dtype in DTYPES.items()}


def pair(name: str) -> tuple[type, type]:
    return getattr(st, name), getattr(torch.optim, name)


def gradients(steps: int, shapes=SHAPES, dtype=torch.float64, seed: int = 0) -> list[list[torch.Tensor]]:
    """A fixed sequence: scales spanning 2.5 decades, 10 % exact zeros."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        scale = 10.0 ** rng.uniform(-2, 0.5)
        step = []
        for shape in shapes:
            g = scale * rng.standard_normal(shape)
            g[rng.random(shape) < 0.1] = 0.0
            step.append(torch.tensor(g).to(dtype))
        out.append(step)
    return out


def starts(shapes=SHAPES, dtype=torch.float64, seed: int = 1) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    return [torch.tensor(rng.standard_normal(shape)).to(dtype) for shape in shapes]


def run(cls, kwargs, grads, x0, schedulers=(), metric=None):
    """Params after stepping ``cls(params, **kwargs)`` through ``grads`` (and the schedulers after each step)."""
    params = [torch.nn.Parameter(x.clone()) for x in x0]
    opt = cls(params, **copy.deepcopy(kwargs))
    made = [make(opt) for make in schedulers]
    for k, step in enumerate(grads):
        for p, g in zip(params, step, strict=True):
            p.grad = g.clone()
        opt.step()
        for scheduler in made:
            scheduler.step(metric[k]) if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau) else scheduler.step()
    return [p.detach().clone() for p in params], opt


def relative(ours, theirs) -> float:
    """The largest entry's difference over the largest entry, worst parameter."""
    return max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(ours, theirs, strict=True))


# --- optim_inputs_func: every configuration, float64 and float32, against torch.optim ---------------------------


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS["float64"])
def test_every_optim_db_configuration_agrees_with_torch_optim(name, kwargs, dtype):
    ours, theirs = pair(name)
    grads, x0 = gradients(STEPS, dtype=dtype), starts(dtype=dtype)
    a, _ = run(ours, kwargs, grads, x0)
    b, _ = run(theirs, kwargs, grads, x0)
    assert all(p.dtype == dtype for p in a)
    assert relative(a, b) <= TOLERANCE[dtype]
    assert relative(b, x0) > 10 * TOLERANCE[dtype]  # the parameters moved by more than the tolerance


def test_the_table_has_the_forty_cpu_configurations_for_each_dtype():
    assert [len(CONFIGS[label]) for label in DTYPES] == [40, 40]
    assert [p.id for p in CONFIGS["float32"]] == [p.id for p in CONFIGS["float64"]]


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS["float64"])
def test_complex_parameters_agree_with_torch_optim(name, kwargs):
    ours, theirs = pair(name)
    grads = [[torch.complex(g, g.flip(0)) for g in step] for step in gradients(60)]
    x0 = [torch.complex(x, -x) for x in starts()]
    a, _ = run(ours, kwargs, grads, x0)
    b, _ = run(theirs, kwargs, grads, x0)
    assert a[0].dtype == torch.complex128 and relative(a, b) <= TOLERANCE[torch.complex128]


# --- optim_error_inputs_func: the same exception types as torch -------------------------------------------------

ERRORS = [
    pytest.param(name, error, id=f"{name}-{error.optimizer_error_input.desc.replace(' ', '_')}")
    for name in COUNTERPARTS
    for error in INFOS[name].optim_error_inputs_func(device="cpu", dtype=torch.float32)
]


def _construct(cls, error) -> None:
    given = error.optimizer_error_input
    params = given.params if given.params is not None else [torch.nn.Parameter(torch.randn(2, 3))]
    cls(params, **given.kwargs)


@pytest.mark.parametrize(("name", "error"), ERRORS)
def test_every_optim_db_error_input_raises_torchs_exception_type(name, error):
    assert error.error_on == common.OptimizerErrorEnum.CONSTRUCTION_ERROR
    for cls in pair(name)[::-1]:  # torch first: the case is still what torch refuses
        if issubclass(error.error_type, Warning):
            with pytest.warns(error.error_type, match=error.error_regex):
                _construct(cls, error)
        else:
            with pytest.raises(error.error_type) as caught:
                _construct(cls, error)
    given = error.optimizer_error_input.kwargs
    culprits = [k for k in given if k != "lr"] or list(given)  # lr=1e-2 accompanies most of torch's cases
    if culprits and not issubclass(error.error_type, Warning):  # ours names the culprit
        assert any(k in str(caught.value) for k in culprits), str(caught.value)


def test_the_error_table_has_cases_for_every_counterpart():
    assert {p.values[0] for p in ERRORS} == set(COUNTERPARTS) and len(ERRORS) >= 6 * 7


# --- the interface: torch's keywords, positions, defaults and group keys ----------------------------------------


@pytest.mark.parametrize("name", COUNTERPARTS)
def test_the_signature_and_the_groups_are_torchs(name):
    ours, theirs = pair(name)
    expected = inspect.signature(theirs).parameters
    got = inspect.signature(ours).parameters
    assert list(got)[:-1] == list(expected) and list(got)[-1] == "convention"
    assert all(got[k].default == v.default and got[k].kind == v.kind for k, v in expected.items())
    p = torch.nn.Parameter(torch.ones(2))
    assert ours([p]).defaults == theirs([p]).defaults
    assert ours([p]).param_groups[0].keys() == theirs([p]).param_groups[0].keys()


def test_positional_arguments_bind_as_torchs():
    grads, x0 = gradients(20), starts()
    a, _ = run(lambda params: st.SGD(params, 0.01, 0.9, 0.0, 0.1, True), {}, grads, x0)
    b, _ = run(lambda params: torch.optim.SGD(params, 0.01, 0.9, 0.0, 0.1, True), {}, grads, x0)
    assert relative(a, b) <= 1e-12


@pytest.mark.parametrize("name", COUNTERPARTS)
def test_foreach_and_fused_change_nothing_and_capturable_differentiable_are_refused(name):
    """`foreach` and `fused=False` leave the steps as they are; `fused=True` rounds as torch's fused kernels
    (tests/test_torch_fused_rounding.py checks those bits), the same steps to rounding."""
    ours, theirs = pair(name)
    grads, x0 = gradients(10), starts()
    reference, _ = run(ours, {}, grads, x0)
    flags = inspect.signature(theirs).parameters
    for flag in ("foreach", "fused"):
        for value in (True, False) if flag in flags else ():
            got, _ = run(ours, {flag: value}, grads, x0)
            if flag == "fused" and value:
                assert relative(got, reference) <= 1e-12, (flag, value)
            else:
                assert all(torch.equal(a, b) for a, b in zip(got, reference, strict=True)), (flag, value)
    for flag in ("capturable", "differentiable"):
        if flag in flags:
            with pytest.raises(ValueError, match=f"{flag}=True is not supported"):
                ours([torch.nn.Parameter(torch.ones(2))], **{flag: True})


def test_lecture_names_ask_for_the_lecture_convention():
    p = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(TypeError, match=r"beta1.*convention='lecture'"):
        st.Adam([p], beta1=0.5)
    assert st.Adam([p], beta1=0.5, convention="lecture").param_groups[0]["beta1"] == 0.5
    assert st.RMSprop([p], alpha=0.5).param_groups[0]["alpha"] == 0.5


# --- generic behaviours (torch's TestOptimRenewed), for every counterpart -----------------------------------------


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()


def _train(model, opt, steps, offset=0):
    x, y = torch.randn(64, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64), None
    y = x[:, :1].sin()
    for i in range(offset, offset + steps):
        rows = slice(8 * (i % 8), 8 * (i % 8) + 8)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x[rows]), y[rows]).backward()
        opt.step()


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS["float64"])
def test_state_dict_round_trips_continue_bit_identically(name, kwargs):
    """A deep copy loaded into a new optimizer, and a state dict saved N steps earlier loaded into the same one."""
    cls = getattr(st, name)
    model = _model()
    opt = cls(model.parameters(), **copy.deepcopy(kwargs))
    _train(model, opt, 4)
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    _train(model, opt, 5, offset=4)
    expected = [p.detach().clone() for p in model.parameters()]

    resumed = _model()
    resumed.load_state_dict(saved_model)
    fresh = cls(resumed.parameters(), **copy.deepcopy(kwargs))
    fresh.load_state_dict(copy.deepcopy(saved_opt))  # loading shares the dict's tensors, which steps update
    _train(resumed, fresh, 5, offset=4)
    assert all(torch.equal(a, b) for a, b in zip(resumed.parameters(), expected, strict=True))

    model.load_state_dict(saved_model)  # back N = 5 steps, in the optimizer that went on
    opt.load_state_dict(saved_opt)
    _train(model, opt, 5, offset=4)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), expected, strict=True))


@pytest.mark.parametrize("convention", ["torch", "lecture"])
@pytest.mark.parametrize("name", COUNTERPARTS)
def test_torch_load_with_its_default_weights_only_reads_the_state_dict(name, convention):
    cls = getattr(st, name)
    model = _model()
    kwargs = {"lr": 0.01, "convention": convention}
    opt = cls(model.parameters(), **kwargs)
    _train(model, opt, 3)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    saved = copy.deepcopy(model.state_dict())
    _train(model, opt, 3, offset=3)
    buffer.seek(0)
    loaded = torch.load(buffer)  # weights_only=True: tensors and plain Python values only
    resumed = _model()
    resumed.load_state_dict(saved)
    again = cls(resumed.parameters(), **kwargs)
    again.load_state_dict(loaded)
    _train(resumed, again, 3, offset=3)
    assert all(torch.equal(a, b) for a, b in zip(resumed.parameters(), model.parameters(), strict=True))


def _groups(name):
    """Two groups with different hyperparameters, the second frozen at lr = 0 for the first half."""
    richest = max(INFOS[name].optim_inputs_func(device="cpu"), key=lambda entry: len(entry.kwargs)).kwargs
    return [{**richest, "lr": 0.02}, {"lr": 0.0}]


@pytest.mark.parametrize("name", COUNTERPARTS)
def test_param_groups_add_param_group_and_lr_zero_agree_with_torch_optim(name):
    grads, x0 = gradients(40, shapes=((3, 2), (4,), (2,))), starts(shapes=((3, 2), (4,), (2,)))
    results = []
    for cls in pair(name):
        params = [torch.nn.Parameter(x.clone()) for x in x0]
        first, second = _groups(name)
        opt = cls([{"params": [params[0]], **first}, {"params": [params[1]], **second}])
        for k, step in enumerate(grads):
            if k == 10:
                opt.add_param_group({"params": [params[2]], "weight_decay": 0.05})
            if k == 20:
                assert torch.equal(params[1], x0[1])  # frozen so far
                opt.param_groups[1]["lr"] = 0.01
            for p, g in zip(params, step, strict=True):
                p.grad = g.clone()
            opt.step()
        results.append([p.detach() for p in params])
    assert relative(*results) <= 1e-12


@pytest.mark.parametrize("name", COUNTERPARTS)
def test_hooks_closures_zero_grad_and_missing_gradients(name):
    cls = getattr(st, name)
    used, unused = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    opt = cls([used, unused], lr=0.1)
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o)))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o)))

    def closure():
        opt.zero_grad()
        loss = (used**2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.detach()) == 3.0 and calls == [("pre", opt), ("post", opt)]
    assert torch.equal(unused, torch.ones(2)) and unused not in opt.state  # no gradient: no step, no state
    assert not torch.equal(used, torch.ones(3))
    opt.zero_grad()
    assert used.grad is None
    closure()
    opt.zero_grad(set_to_none=False)
    assert torch.equal(used.grad, torch.zeros(3))
    theirs = getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(3))], lr=0.1)
    p = theirs.param_groups[0]["params"][0]
    (p**2).sum().backward()
    theirs.step()
    assert torch.allclose(opt.param_groups[0]["params"][0], p, rtol=1e-6)


@pytest.mark.parametrize("name", COUNTERPARTS)
def test_non_contiguous_parameters_and_tensor_lr_agree_with_torch_optim(name):
    grads = [[g.t() for g in step] for step in gradients(50, shapes=((3, 4),))]
    results = []
    for cls in pair(name):
        p = torch.nn.Parameter(starts(shapes=((3, 4),))[0].t())
        assert not p.is_contiguous()
        opt = cls([p], lr=torch.tensor(0.01, dtype=torch.float64))  # (float32: torch's Adam rounds lr/(1 − β₁ᵏ))
        scheduler = lr_scheduler.ExponentialLR(opt, gamma=0.95)
        for step in grads:
            p.grad = step[0].clone()
            opt.step()
            scheduler.step()
        results.append([p.detach()])
    assert relative(*results) <= 1e-12


# --- every learning-rate scheduler ----------------------------------------------------------------------------

SCHEDULERS = {
    "LambdaLR-warmup-from-0": lambda opt: lr_scheduler.LambdaLR(opt, lambda epoch: min(epoch / 5, 1.0)),
    "MultiplicativeLR": lambda opt: lr_scheduler.MultiplicativeLR(opt, lambda epoch: 0.95),
    "StepLR": lambda opt: lr_scheduler.StepLR(opt, step_size=5, gamma=0.5),
    "MultiStepLR": lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[3, 7], gamma=0.5),
    "ConstantLR": lambda opt: lr_scheduler.ConstantLR(opt),
    "LinearLR": lambda opt: lr_scheduler.LinearLR(opt),
    "ExponentialLR": lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.9),
    "SequentialLR": lambda opt: lr_scheduler.SequentialLR(
        opt, [lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=3), lr_scheduler.ExponentialLR(opt, 0.9)], [3]
    ),
    "PolynomialLR-to-0": lambda opt: lr_scheduler.PolynomialLR(opt, total_iters=10),
    "CosineAnnealingLR-eta_min-0": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=10),
    "ChainedScheduler": lambda opt: lr_scheduler.ChainedScheduler(
        [lr_scheduler.ExponentialLR(opt, 0.9), lr_scheduler.StepLR(opt, 4, 0.5)]
    ),
    "ReduceLROnPlateau": lambda opt: lr_scheduler.ReduceLROnPlateau(opt, patience=1),
    "CyclicLR": lambda opt: lr_scheduler.CyclicLR(opt, base_lr=0.001, max_lr=0.01, step_size_up=4),
    "CosineAnnealingWarmRestarts": lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5),
    "OneCycleLR": lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=20),
    "SWALR": lambda opt: swa_utils.SWALR(opt, swa_lr=0.005, anneal_epochs=5),
}


def test_every_scheduler_of_torch_is_in_the_table():
    classes = {cls.__name__ for cls in vars(lr_scheduler).values() if isinstance(cls, type)
               and issubclass(cls, lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau)}  # fmt: skip
    covered = {label.split("-")[0] for label in SCHEDULERS}
    assert classes - {"LRScheduler", "_LRScheduler"} <= covered


def _scheduled(cls, make):
    """Params and the groups' scheduled values after 20 steps, or the exception type the scheduler raised."""
    try:
        params, opt = run(cls, {}, gradients(20), starts(), [make], metric=[1.0] * 20)
    except (ValueError, TypeError, KeyError) as error:
        return type(error)
    keys = ("lr", "momentum", "betas")
    return params, [{k: group[k] for k in keys if k in group} for group in opt.param_groups]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("name", COUNTERPARTS)
def test_every_lr_scheduler_drives_sgdlab_as_torch_optim(name, scheduler):
    """Same parameters and same scheduled lr/momentum/betas; where torch's scheduler refuses the optimizer (CyclicLR
    and OneCycleLR cycle ``momentum`` or ``betas``, which Adagrad and Adadelta lack), the same refusal."""
    ours, theirs = (_scheduled(cls, SCHEDULERS[scheduler]) for cls in pair(name))
    if isinstance(theirs, type):
        assert ours is theirs
        return
    assert relative(ours[0], theirs[0]) <= 1e-12
    assert ours[1] == pytest.approx(theirs[1], rel=1e-12)


# --- sparse gradients, momentum >= 1 --------------------------------------------------------------------------


def _sparse(steps=30, rows=6, cols=3, seed=2):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        index = torch.tensor(rng.choice(rows, size=3, replace=True))  # repeated rows: coalescing sums them
        out.append(
            torch.sparse_coo_tensor(
                index[None], torch.tensor(rng.standard_normal((3, cols))), (rows, cols), check_invariants=True
            )
        )
    return out


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("Adagrad", {"lr": 0.1}), ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.2}),
     ("Adagrad", {"lr": 0.1, "maximize": True}), ("SGD", {"lr": 0.05}), ("SGD", {"lr": 0.05, "momentum": 0.9}),
     ("SGD", {"lr": 0.05, "momentum": 0.5, "dampening": 0.2}),
     ("SGD", {"lr": 0.05, "momentum": 0.5, "nesterov": True})],
)  # fmt: skip
def test_sparse_gradients_agree_with_torch_optim(name, kwargs):
    results = []
    for cls in pair(name):
        p = torch.nn.Parameter(starts(shapes=((6, 3),))[0])
        opt = cls([p], **kwargs)
        with torch.sparse.check_sparse_tensor_invariants(enable=True):  # (torch's Adagrad builds sparse tensors)
            for g in _sparse():
                p.grad = g.clone()
                opt.step()
        results.append([p.detach()])
    assert relative(*results) <= 1e-12


@pytest.mark.parametrize(("name", "kwargs"), [("Adam", {}), ("RMSprop", {}), ("Adagrad", {"weight_decay": 0.1}),
                                              ("SGD", {"weight_decay": 0.1}),
                                              ("SGD", {"weight_decay": 0.1, "momentum": 0.9})])  # fmt: skip
def test_sparse_gradients_are_refused_as_by_torch_optim(name, kwargs):
    for cls in pair(name):
        p = torch.nn.Parameter(torch.ones(6, 3, dtype=torch.float64))
        p.grad = _sparse(1)[0]
        with pytest.raises(RuntimeError):
            cls([p], **kwargs).step()


@pytest.mark.parametrize(("name", "kwargs"), [("SGD", {"momentum": 1.0}), ("SGD", {"momentum": 1.5, "nesterov": True}),
                                              ("RMSprop", {"momentum": 1.2})])  # fmt: skip
def test_momentum_of_1_and_more_is_accepted_as_by_torch_optim(name, kwargs):
    grads, x0 = gradients(30), starts()
    a, _ = run(getattr(st, name), {"lr": 1e-3, **kwargs}, grads, x0)
    b, _ = run(getattr(torch.optim, name), {"lr": 1e-3, **kwargs}, grads, x0)
    assert relative(a, b) <= 1e-12
