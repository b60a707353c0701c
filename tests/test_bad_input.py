"""The bad-input catalogue: every entry must fail with one clear error that names what is wrong.

One table across the public API, the CLI and spec files. Besides the exception type and message, each case
checks that the error is raised by sgdlab itself — not by NumPy, SciPy or pydantic deep inside a call.
"""

from __future__ import annotations

import functools
import importlib
import re
import traceback
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

import sgdlab as sl
from conftest import well_conditioned_logistic
from sgdlab.cli import main
from sgdlab.engine import Sampler
from sgdlab.experiments import SpecError, Store, parse_spec
from test_data import BAD_DATA
from test_engine import BAD_RUN_ARGUMENTS
from test_methods import BAD_HYPERPARAMETERS, BAD_ITERATES
from test_spec import INVALID as INVALID_SPECS
from test_spec import changed


class CliError(Exception):
    """A CLI invocation that exited non-zero; the message is what the user saw."""


def cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    if result.exit_code != 0:
        raise CliError(result.output)


@functools.cache
def files() -> Path:
    """Malformed and well-formed input files, written once per session."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="sgdlab-bad-input-"))
    (root / "header.npy").write_bytes(b"\x93NUMPY\x01\x00garbage that is not a header")
    np.save(root / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.savez(root / "archive.npz", A=np.ones((3, 2)))
    np.save(root / "A.npy", np.ones((4, 3)))
    np.save(root / "A3d.npy", np.ones((4, 3, 2)))
    np.save(root / "y.npy", np.ones(4))
    np.save(root / "y5.npy", np.ones(5))
    (root / "bad.svm").write_text("+1 1:0.5 2:x\n")
    (root / "spec.toml").write_text('name = "x"\nseeds = 0\n[budget]\nepochs = 1\n')
    (root / "ok.toml").write_text(
        'name = "ok"\n[budget]\niters = 5\n[[problems]]\nname = "q"\ntype = "Quadratic2D"\n[[methods]]\ntype = "SGD"\n'
    )
    with Store(root / "empty.db"):
        pass
    return root


def problem():
    return well_conditioned_logistic()


def _step_with_wrong_gradient():
    x = np.zeros(3)
    method = sl.methods.Adam()
    method.step(x, np.ones(4), method.init(x))


NEW_CASES = [
    # .npy and LIBSVM files
    ("npy-missing", lambda: sl.data.load_npy(files() / "nope.npy", files() / "y.npy"), FileNotFoundError,
     "design matrix file not found"),
    ("npy-bad-header", lambda: sl.data.load_npy(files() / "header.npy", files() / "y.npy"), ValueError,
     "malformed .npy file"),
    ("npy-pickled-objects", lambda: sl.data.load_npy(files() / "objects.npy", files() / "y.npy"), ValueError,
     "malformed .npy file"),
    ("npy-archive", lambda: sl.data.load_npy(files() / "archive.npz", files() / "y.npy"), ValueError,
     "several arrays"),
    ("npy-3d", lambda: sl.data.load_npy(files() / "A3d.npy", files() / "y.npy"), ValueError, "must be 2-D"),
    ("npy-length-mismatch", lambda: sl.data.load_npy(files() / "A.npy", files() / "y5.npy"), ValueError,
     "shape mismatch: A has 4 rows but y has 5"),
    ("libsvm-malformed", lambda: sl.data.load_libsvm(files() / "bad.svm"), ValueError, "malformed LIBSVM"),
    # one sample, impossible sizes
    ("one-sample-logistic", lambda: sl.problems.LogisticRegression(sl.data.Dataset([[1.0, 2.0]], [1])), ValueError,
     "needs both classes"),
    ("one-sample-split", lambda: sl.data.Dataset([[1.0, 2.0]], [1.0]).split(0.5), ValueError,
     "empty train or test part"),
    ("one-sample-batch", lambda: sl.run(sl.problems.LeastSquares(sl.data.Dataset([[1.0, 2.0]], [1.0])), "SGD",
                                        epochs=1, batch_size=2), ValueError, "batch_size must be between 1 and n=1"),
    ("coo-matrix", lambda: sl.data.Dataset(sp.coo_matrix(np.eye(2)), [1.0, 2.0]), TypeError, "CSR"),
    ("sampler-batch", lambda: Sampler("uniform", 10, 0, np.random.default_rng()), ValueError, "batch_size"),
    # the oracle and the update rule
    ("grad-wrong-shape", lambda: problem().grad(np.zeros(3)), ValueError, r"x must have shape \(10,\)"),
    ("loss-list", lambda: problem().loss([0.0] * 10), ValueError, "x must have shape"),
    ("grad-batch-out-of-range", lambda: problem().grad_batch(np.zeros(10), np.array([0, 300])), ValueError,
     r"sample indices must lie in 0\.\.299"),
    ("grad-batch-empty", lambda: problem().grad_batch(np.zeros(10), np.array([], dtype=int)), ValueError,
     "non-empty 1-D array of integer"),
    ("grad-batch-float-index", lambda: problem().grad_batch(np.zeros(10), np.array([0.5])), ValueError,
     "integer sample indices"),
    ("hvp-wrong-shape", lambda: problem().hvp(np.zeros(10), np.zeros(2)), ValueError, "v must have shape"),
    ("step-wrong-gradient", _step_with_wrong_gradient, ValueError, r"gradient has shape \(4,\) but x has shape \(3,\)"),
    ("no-optimum", lambda: sl.problems.LogisticRegression(sl.data.Dataset([[1.0], [-1.0]], [1, -1])).x_star,
     sl.problems.CertificationError, "linearly separable"),
    ("resume-garbage", lambda: sl.run(problem(), "SGD", epochs=1, resume=files() / "spec.toml"), ValueError,
     "not a readable sgdlab checkpoint"),
    # spec files
    ("spec-missing", lambda: sl.experiments.load_spec(files() / "nope.toml"), SpecError, "file not found"),
    ("spec-bad-field", lambda: sl.experiments.load_spec(files() / "spec.toml"), SpecError, "seeds"),
    ("spec-not-a-dict", lambda: parse_spec([1, 2]), SpecError, "spec"),
    ("spec-method-typo", lambda: parse_spec(changed("methods.0.params", {"lrr": 0.1})), SpecError,
     "unknown hyperparameter 'lrr' for SGD"),
    # the command line
    ("cli-demo-method", lambda: cli("demo", "--method", "Adamax", "--n", "50"), CliError, "unknown method"),
    ("cli-demo-epochs", lambda: cli("demo", "--epochs", "0"), CliError, "epochs"),
    ("cli-demo-problem", lambda: cli("demo", "--problem", "lasso"), CliError, "'lasso' is not one of"),
    ("cli-run-missing", lambda: cli("run", str(files() / "nope.toml")), CliError, "file not found"),
    ("cli-run-invalid", lambda: cli("run", str(files() / "spec.toml"), "--db", str(files() / "x.db")), CliError,
     "seeds"),
    ("cli-run-jobs", lambda: cli("run", str(files() / "ok.toml"), "--jobs", "0"), CliError, "--jobs"),
    ("cli-run-jobs-and-dask", lambda: cli("run", str(files() / "ok.toml"), "--jobs", "2", "--dask-local", "2"),
     CliError, "--jobs applies to local processes"),
    ("cli-ls-missing", lambda: cli("ls", str(files() / "nope.db")), CliError, "no results database"),
    ("cli-show-unknown", lambda: cli("show", str(files() / "empty.db"), "abc"), CliError, "no run with a key"),
    ("cli-export-format", lambda: cli("export", str(files() / "empty.db"), "--format", "xlsx"), CliError,
     "'xlsx' is not one of"),
    ("cli-report-empty", lambda: cli("report", str(files() / "empty.db"), "--out", str(files() / "r")), CliError,
     "holds no finished runs"),
    ("cli-nn-network", lambda: cli("nn", "--network", "resnet"), CliError, "'resnet' is not one of"),
    ("cli-unknown-command", lambda: cli("fly"), CliError, "No such command 'fly'"),
]  # fmt: skip


def _catalogue():
    for case in BAD_DATA:
        yield pytest.param(*case.values, id=f"data-{case.id}")
    for make, error, message in BAD_HYPERPARAMETERS:
        yield pytest.param(make, error, message, id=f"hyperparameter-{message.split()[0]}")
    for x, error, message in BAD_ITERATES:
        yield pytest.param(functools.partial(lambda x: sl.methods.Adam().init(x), x), error, message, id="iterate")
    for kwargs, error, message in BAD_RUN_ARGUMENTS:
        make = functools.partial(lambda kw: sl.run(problem(), sl.methods.SGD(), **kw), kwargs)
        yield pytest.param(make, error, message, id=f"run-{'-'.join(kwargs) or 'nobudget'}")
    for path, value, message in INVALID_SPECS:
        yield pytest.param(
            functools.partial(lambda p, v: parse_spec(changed(p, v)), path, value),
            SpecError,
            message,
            id=f"spec-{path}",
        )
    for name, make, error, message in NEW_CASES:
        yield pytest.param(make, error, message, id=name)
    for module in CATALOGUE_MODULES:  # the catalogue's chapters, one module per area
        for name, make, error, message in importlib.import_module(module).CASES:
            yield pytest.param(make, error, message, id=f"{module.removeprefix('catalogue_')}-{name}")


#: Further chapters of the catalogue, one module per area (``tests/catalogue_*.py``): each holds ``CASES``, a list
#: of ``(id, make, error, message)``.
CATALOGUE_MODULES = tuple(sorted(path.stem for path in Path(__file__).parent.glob("catalogue_*.py")))


CATALOGUE = list(_catalogue())


def test_the_catalogue_is_large():
    assert len(CATALOGUE) >= 300


@pytest.mark.parametrize(("make", "error", "message"), CATALOGUE)
def test_bad_input_gives_one_clear_error(make, error, message):
    with pytest.raises(error) as caught:
        make()
    text = str(caught.value)
    assert message in text or re.search(message, text), text
    innermost = traceback.extract_tb(caught.tb)[-1].filename
    assert "sgdlab" in innermost or "tests" in innermost or error is CliError, f"raised deep inside {innermost}"


def test_a_cpu_tensor_is_a_starting_point():
    # x0 as a torch tensor is read as its values, in its float type (it once failed inside NumPy's dtype lookup)
    import torch

    prob = problem()
    by_tensor = sl.run(prob, sl.methods.SGD(lr=0.1), iters=20, x0=torch.full((prob.dim,), 0.5))
    by_array = sl.run(prob, sl.methods.SGD(lr=0.1), iters=20, x0=np.full(prob.dim, 0.5, np.float32))
    assert by_tensor.x.dtype == np.float32
    np.testing.assert_array_equal(by_tensor.x, by_array.x)
