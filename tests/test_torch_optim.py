"""sgdlab.torch optimizers: agreement with torch.optim, identity with the NumPy side, torch.optim protocol."""

from __future__ import annotations

import copy
import functools
import io

import numpy as np
import pytest
import torch

import sgdlab.methods as npm
import sgdlab.torch as st
from method_db import BY_NAME, ROWS, STEP, cases

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _counterpart(name: str):
    """The torch.optim class a registry entry names (``info.torch``, e.g. ``"torch.optim.Adam"``)."""
    module, _, attr = name.rpartition(".")
    assert module == "torch.optim", name
    return getattr(torch.optim, attr)


def sgdlab_optimizer(name: str, config, params):
    """sgdlab.torch's optimizer for a table configuration: torch's interface (the counterpart's kwargs,
    ``config.torch_optim``) for a ``convention="torch"`` configuration of an optimizer named as its counterpart,
    sgdlab's own (the method's fields) otherwise."""
    cls = st.OPTIMIZERS[name]
    if cls.torch_class is None:
        return cls(params, **config.kwargs)
    if config.kwargs.get("convention") == "torch":
        assert config.torch_optim is not None, f"{config.id}: a torch-convention configuration names torch's kwargs"
        return cls(params, **config.torch_optim)
    return cls(params, convention="lecture", **config.kwargs)


def drop_in(name: str, config):
    """sgdlab.torch's optimizer called as the counterpart is (``config.torch_optim``) where it takes torch's
    interface, with the method's fields otherwise (Momentum, Nesterov, AMSGrad)."""
    cls = st.OPTIMIZERS[name]
    return functools.partial(cls, **(config.torch_optim if cls.torch_class is not None else config.kwargs))


# sgdlab optimizer, and the torch.optim optimizer and kwargs of the same configuration (from the table).
AGREEMENT = [
    pytest.param(drop_in(row.name, config), _counterpart(row.cls.info.torch), config.torch_optim, id=p.id)
    for p in cases(STEP, needs="torch", torch_optim=True)
    for row, config in [p.values]
]
# Every sgdlab.torch optimizer, in every STEP configuration of the table, against its NumPy twin.
ALL = [pytest.param(p.values[0].name, p.values[1], id=p.id) for p in cases(STEP, needs="torch")]


def test_the_optimizers_are_the_registrys_elementwise_methods():
    assert list(st.OPTIMIZERS) == [row.name for row in ROWS if "torch" in row.capabilities]
    for name, optimizer in st.OPTIMIZERS.items():
        assert getattr(st, name) is optimizer and optimizer.method_class is npm.METHODS[name]
    for row in ROWS:  # every counterpart the registry names exists
        assert row.cls.info.torch is None or _counterpart(row.cls.info.torch)
    drop_ins = {name: o.torch_class.__name__ for name, o in st.OPTIMIZERS.items() if o.torch_class is not None}
    assert drop_ins == {"SGD": "SGD", "Adagrad": "Adagrad", "RMSProp": "RMSprop", "Adadelta": "Adadelta",
                        "Adam": "Adam", "AdamW": "AdamW"}  # fmt: skip
    assert st.ALIASES == {"RMSprop": st.RMSProp} and st.RMSprop is st.RMSProp and "RMSprop" in st.__all__


def gradient_sequence(steps: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.uniform(-3, 1, size=(steps, 1))
    return scale * rng.standard_normal((steps, size))


def run_torch(make, grads, x0, dtype=torch.float64, device="cpu"):
    """``make(params)``'s iterate after stepping through ``grads``."""
    p = torch.nn.Parameter(torch.tensor(x0, dtype=dtype, device=device))
    opt = make([p])
    for g in grads:
        p.grad = torch.tensor(g, dtype=dtype, device=device)
        opt.step()
    return p.detach().cpu().double().numpy()


@pytest.mark.parametrize(("ours", "theirs", "theirs_kw"), AGREEMENT)
def test_agrees_with_torch_optim_over_1000_steps(ours, theirs, theirs_kw):
    grads = gradient_sequence(1000, 50)
    x0 = np.random.default_rng(1).standard_normal(50)
    a = run_torch(ours, grads, x0)
    b = run_torch(lambda params: theirs(params, **theirs_kw, foreach=False), grads, x0)
    rel = np.max(np.abs(a - b)) / np.max(np.abs(b))
    assert rel <= 1e-12, rel


@pytest.mark.parametrize(("name", "config"), ALL)
def test_equals_the_numpy_method_on_the_same_gradients(name, config):
    """One source of the math: the tensor run and the NumPy run apply the same ``step`` (through torch's interface,
    `Method.from_torch` builds the very method of the configuration)."""
    grads = gradient_sequence(300, 23, seed=2)
    x0 = np.random.default_rng(3).standard_normal(23)
    method = npm.METHODS[name](**config.kwargs)
    x, state = x0.copy(), method.init(x0.copy())
    for g in grads:
        method.step(x, g, state)
    ours = run_torch(lambda params: sgdlab_optimizer(name, config, params), grads, x0)
    np.testing.assert_allclose(ours, x, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("name", "config"), ALL)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_dtypes_and_devices(name, config, device, dtype):
    grads = gradient_sequence(50, 16, seed=4)
    x0 = np.random.default_rng(5).standard_normal(16)
    p = torch.nn.Parameter(torch.tensor(x0, dtype=dtype, device=device))
    opt = sgdlab_optimizer(name, config, [p])
    for g in grads:
        p.grad = torch.tensor(g, dtype=dtype, device=device)
        opt.step()
    assert p.dtype == dtype and p.device.type == device
    assert all(v.dtype == dtype for v in opt.state[p].values() if torch.is_tensor(v))
    reference = run_torch(lambda params: sgdlab_optimizer(name, config, params), grads, x0)
    # bfloat16 keeps 8 significant bits (rel. precision 2^-8 ≈ 4e-3) and rounds x and every state each step
    tol = {torch.float64: 1e-12, torch.float32: 1e-4, torch.bfloat16: 0.1}[dtype]
    scale = max(1.0, float(np.max(np.abs(reference))))
    assert np.max(np.abs(p.detach().cpu().double().numpy() - reference)) <= tol * scale


@pytest.mark.parametrize(("name", "config"), ALL)
def test_state_dict_resume_is_bit_identical(name, config):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    data = torch.randn(64, 5, dtype=torch.float32), torch.randn(64, 1)

    def train(model, opt, steps):
        for i in range(steps):
            batch = slice(8 * (i % 8), 8 * (i % 8) + 8)
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(data[0][batch]), data[1][batch]).backward()
            opt.step()

    opt = sgdlab_optimizer(name, config, model.parameters())
    train(model, opt, 20)
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    train(model, opt, 20)

    resumed = copy.deepcopy(model)
    resumed.load_state_dict(saved_model)
    opt2 = sgdlab_optimizer(name, config, resumed.parameters())
    opt2.load_state_dict(saved_opt)
    train(resumed, opt2, 20)
    for a, b in zip(model.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("convention", ["torch", "lecture"])
def test_per_group_hyperparameters(convention):
    grads = gradient_sequence(40, 6, seed=6)
    x0 = np.random.default_rng(7).standard_normal(6)
    a = torch.nn.Parameter(torch.tensor(x0[:3]))
    b = torch.nn.Parameter(torch.tensor(x0[3:]))
    second = {"betas": (0.5, 0.999)} if convention == "torch" else {"beta1": 0.5}
    opt = st.Adam([{"params": [a]}, {"params": [b], "lr": 0.1, **second}], lr=0.01, convention=convention)
    for g in grads:
        a.grad, b.grad = torch.tensor(g[:3]), torch.tensor(g[3:])
        opt.step()
    expected_a = run_torch(lambda params: st.Adam(params, lr=0.01, convention=convention), grads[:, :3], x0[:3])
    expected_b = run_torch(lambda params: st.Adam(params, lr=0.1, convention=convention, **second), grads[:, 3:],
                           x0[3:])  # fmt: skip
    np.testing.assert_array_equal(a.detach().numpy(), expected_a)
    np.testing.assert_array_equal(b.detach().numpy(), expected_b)


def test_lr_scheduler_matches_the_numpy_schedule():
    grads = gradient_sequence(60, 5, seed=8)
    x0 = np.random.default_rng(9).standard_normal(5)
    p = torch.nn.Parameter(torch.tensor(x0))
    opt = st.Adam([p], lr=0.05)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        scheduler.step()
    method = npm.Adam(lr=0.05, schedule=npm.StepDecay(every=10, factor=0.5))
    x, state = x0.copy(), method.init(x0.copy())
    for g in grads:
        method.step(x, g, state)
    np.testing.assert_allclose(p.detach().numpy(), x, rtol=1e-13)


def test_parameters_without_gradients_are_left_alone_and_closure_is_called():
    used = torch.nn.Parameter(torch.ones(3))
    frozen = torch.nn.Parameter(torch.ones(3))
    opt = st.Momentum([used, frozen], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (used**2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.detach()) == 3.0
    assert torch.equal(frozen, torch.ones(3))
    assert torch.allclose(used, torch.full((3,), 0.8))


def test_training_a_small_network_decreases_the_loss():
    torch.manual_seed(1)
    x = torch.randn(256, 4)
    y = (x[:, :1] * x[:, 1:2]).sin()
    for name in st.OPTIMIZERS:
        torch.manual_seed(2)
        model = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
        opt = st.OPTIMIZERS[name](model.parameters(), **BY_NAME[name].train_kwargs)
        first = None
        for _ in range(150):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            first = first if first is not None else float(loss.detach())
        assert float(loss.detach()) < 0.8 * first, name


INVALID = [
    pytest.param(row.name, bad.kwargs, bad.error, bad.match, id=f"{row.name}-{'-'.join(map(str, bad.kwargs.values()))}")
    for row in ROWS
    if "torch" in row.capabilities
    for bad in row.errors
]


def _own_names(name: str) -> dict:
    """What selects sgdlab's own interface: nothing, or, for an optimizer named as its counterpart, the lecture's
    convention (unless the case gives a convention)."""
    return {"convention": "lecture"} if st.OPTIMIZERS[name].torch_class is not None else {}


@pytest.mark.parametrize(("name", "kwargs", "error", "message"), INVALID)
def test_invalid_hyperparameters(name, kwargs, error, message):
    with pytest.raises(error, match=message):
        st.OPTIMIZERS[name]([torch.nn.Parameter(torch.ones(2))], **{"lr": 0.1, **_own_names(name), **kwargs})


@pytest.mark.parametrize("name", [n for n, o in st.OPTIMIZERS.items() if o.method_class().lr is None])
def test_a_method_without_a_default_step_needs_lr(name):
    with pytest.raises(ValueError, match="needs lr="):
        st.OPTIMIZERS[name]([torch.nn.Parameter(torch.ones(2))], **_own_names(name))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("betas", (1.5, 0.999), r"betas\[0\] must be in \[0, 1\)"), ("lr", -0.1, "lr must be >= 0"),
     ("eps", 0.0, "eps must be > 0"), ("capturable", True, "capturable=True is not supported")],
)  # fmt: skip
def test_changing_a_group_to_an_invalid_value_is_caught_at_the_next_step(key, value, message):
    p = torch.nn.Parameter(torch.ones(2))
    opt = st.Adam([p], lr=0.1)
    p.grad = torch.ones(2)
    opt.param_groups[0][key] = value
    with pytest.raises(ValueError, match=message):
        opt.step()
    assert torch.equal(p, torch.ones(2))


# How a group's hyperparameter may change between two steps: replaced by another number or tuple (as the
# schedulers do), or a tensor changed in place (a tensor lr under a scheduler; tensor betas).
GROUP_CHANGES = {
    "float replaced": ({"lr": 0.1}, lambda group: group.update(lr=0.05)),
    "tuple replaced": ({"lr": 0.1, "betas": (0.9, 0.999)}, lambda group: group.update(betas=(0.5, 0.9))),
    "number replaced by a tensor": ({"lr": 0.1}, lambda group: group.update(lr=torch.tensor(0.05).double())),
    "tensor changed in place": ({"lr": torch.tensor(0.1, dtype=torch.float64)}, lambda group: group["lr"].fill_(0.05)),
    "tensor betas changed in place": (
        {"lr": 0.1, "betas": (torch.tensor(0.9, dtype=torch.float64), torch.tensor(0.999, dtype=torch.float64))},
        lambda group: group["betas"][0].fill_(0.5),
    ),
}  # fmt: skip


@pytest.mark.parametrize("change", GROUP_CHANGES)
def test_a_changed_group_value_reaches_the_next_step(change):
    """The group's method is rebuilt whatever the way its value changed (the per-step check compares the raw
    values only where they are immutable numbers): the same steps as torch.optim.Adam's."""
    kwargs, mutate = GROUP_CHANGES[change]
    ours_p, theirs_p = (torch.nn.Parameter(torch.linspace(-1, 1, 5, dtype=torch.float64)) for _ in range(2))
    ours = st.Adam([ours_p], **copy.deepcopy(kwargs))
    theirs = torch.optim.Adam([theirs_p], **copy.deepcopy(kwargs))
    for i in range(4):
        if i == 2:
            for opt in (ours, theirs):
                mutate(opt.param_groups[0])
        for p in (ours_p, theirs_p):
            p.grad = torch.cos(torch.arange(5, dtype=torch.float64) + i)
        ours.step()
        theirs.step()
        torch.testing.assert_close(ours_p, theirs_p, rtol=1e-12, atol=0)


@pytest.mark.parametrize(("name", "config"), ALL)
def test_a_copied_or_pickled_optimizer_continues_bit_identically(name, config):
    """`copy.deepcopy(opt)` and `torch.save(opt)`/`torch.load` of the whole optimizer (torch's `__getstate__` keeps
    only defaults, state and groups): the copies keep their interface and step as the original does."""
    gen = torch.Generator().manual_seed(4)
    params = [torch.nn.Parameter(torch.randn(n, generator=gen, dtype=torch.float64)) for n in (70_000, 5)]
    opt = sgdlab_optimizer(name, config, params)
    grads = [[torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params] for _ in range(4)]
    for step in grads[:2]:
        for p, g in zip(params, step, strict=True):
            p.grad = g.clone()
        opt.step()
    buffer = io.BytesIO()
    torch.save(opt, buffer)
    buffer.seek(0)
    copies = [copy.deepcopy(opt), torch.load(buffer, weights_only=False)]
    for step in grads[2:]:
        for each in [opt, *copies]:
            for p, g in zip(each.param_groups[0]["params"], step, strict=True):
                p.grad = g.clone()
            each.step()
    for each in copies:
        assert type(each.interface) is type(opt.interface)
        for p, q in zip(each.param_groups[0]["params"], params, strict=True):
            assert torch.equal(p, q)


def test_a_refused_param_group_is_not_added():
    opt = st.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="momentum must be >= 0"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.ones(2))], "momentum": -1.0})
    assert len(opt.param_groups) == 1


def test_errors_name_torchs_keywords_under_torchs_interface():
    p = torch.nn.Parameter(torch.ones(2))
    for make, message in [(lambda: st.RMSprop([p], alpha=1.5), r"alpha must be in \[0, 1\)"),
                          (lambda: st.Adadelta([p], rho=1.1), r"rho must be in \[0, 1\)"),
                          (lambda: st.SGD([p], momentum=0.9, nesterov=True, dampening=0.1), "nesterov=True requires"),
                          (lambda: st.Adam([p], betas=(0.9, 1.0)), r"betas\[1\] must be in"),
                          (lambda: st.Adam([p], betas=0.9), "betas must be a pair")]:  # fmt: skip
        with pytest.raises((ValueError, TypeError), match=message):
            make()
