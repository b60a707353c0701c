"""Datasets: validation, generators, loaders, scaling."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file

import sgdlab as sl
from sgdlab.data import Dataset, load_bundled, load_libsvm, make_classification, make_regression, standardize

GOOD_A = np.arange(12.0).reshape(4, 3)
GOOD_Y = np.array([1.0, -1.0, 1.0, -1.0])

BAD_DATA = [
    pytest.param(lambda: Dataset(np.array([[1.0, np.nan], [0.0, 1.0]]), [1, 2]), ValueError, "NaN or Inf", id="nan-A"),
    pytest.param(
        lambda: Dataset(np.array([[1.0, np.inf], [0.0, 1.0]]), [1, 2]),
        ValueError,
        "row 0, column 1",
        id="inf-A-located",
    ),
    pytest.param(lambda: Dataset(GOOD_A, [1.0, np.nan, 0.0, 1.0]), ValueError, "y contains NaN", id="nan-y"),
    pytest.param(lambda: Dataset(np.zeros((0, 3)), []), ValueError, "empty", id="no-samples"),
    pytest.param(lambda: Dataset(np.zeros((3, 0)), [1, 2, 3]), ValueError, "empty", id="no-features"),
    pytest.param(lambda: Dataset(GOOD_A, GOOD_Y[:3]), ValueError, "shape mismatch", id="short-y"),
    pytest.param(lambda: Dataset(np.arange(4.0), GOOD_Y), ValueError, "2-D", id="1d-A"),
    pytest.param(lambda: Dataset(GOOD_A, np.ones((4, 2))), ValueError, "1-D", id="2d-y"),
    pytest.param(lambda: Dataset(np.array([["a", "b"]]), [1]), TypeError, "real numbers", id="strings"),
    pytest.param(lambda: Dataset(sp.csc_matrix(GOOD_A), GOOD_Y), TypeError, "tocsr", id="csc"),
    pytest.param(lambda: Dataset(sp.csr_matrix(np.array([[np.nan, 1.0]])), [1]), ValueError, "NaN", id="nan-csr"),
    pytest.param(
        lambda: sl.problems.LogisticRegression(Dataset(GOOD_A, [0, 1, 2, 1])),
        ValueError,
        "-1/\\+1 or 0/1",
        id="logistic-three-labels",
    ),
    pytest.param(
        lambda: sl.problems.LogisticRegression(Dataset(GOOD_A, [1, 1, 1, 1])),
        ValueError,
        "both classes",
        id="logistic-one-class",
    ),
    pytest.param(
        lambda: sl.problems.LogisticRegression(Dataset(GOOD_A, [0.5, 1, 0, 1])),
        ValueError,
        "binary labels",
        id="logistic-fractional",
    ),
    pytest.param(
        lambda: sl.problems.SoftmaxRegression(Dataset(GOOD_A, [0, 1, -1, 1])),
        ValueError,
        "integers 0..K-1",
        id="softmax-negative",
    ),
    pytest.param(
        lambda: sl.problems.SoftmaxRegression(Dataset(GOOD_A, [0, 1.5, 1, 1])),
        ValueError,
        "integers",
        id="softmax-fractional",
    ),
    pytest.param(
        lambda: sl.problems.SoftmaxRegression(Dataset(GOOD_A, [0, 1, 3, 1]), n_classes=3),
        ValueError,
        "out of range",
        id="softmax-label-range",
    ),
    pytest.param(lambda: sl.problems.LeastSquares(GOOD_A), TypeError, "Dataset", id="problem-needs-dataset"),
    pytest.param(lambda: sl.problems.LeastSquares(Dataset(GOOD_A, GOOD_Y), l2=-1.0), ValueError, "l2", id="neg-l2"),
    pytest.param(lambda: make_regression(n=0), ValueError, "n must be >= 1", id="gen-n"),
    pytest.param(lambda: make_regression(cond=0.5), ValueError, "cond", id="gen-cond"),
    pytest.param(lambda: make_regression(density=1.5), ValueError, "density", id="gen-density"),
    pytest.param(lambda: make_classification(n_classes=1), ValueError, "n_classes", id="gen-classes"),
    pytest.param(lambda: make_classification(noise=-1.0), ValueError, "noise", id="gen-noise"),
    pytest.param(lambda: load_bundled("mnist"), ValueError, "unknown bundled dataset", id="bundled-unknown"),
    pytest.param(lambda: Dataset(GOOD_A, GOOD_Y).split(1.5), ValueError, "test_size", id="split"),
    pytest.param(
        lambda: standardize(Dataset(sp.csr_matrix(GOOD_A), GOOD_Y), with_mean=True),
        ValueError,
        "sparse",
        id="centre-sparse",
    ),
]


def test_dense_regression_has_the_requested_condition_number():
    data = make_regression(n=500, dim=30, cond=1e3, seed=1)
    eig = np.linalg.eigvalsh(data.A.T @ data.A / data.n)
    assert eig[-1] / eig[0] == pytest.approx(1e3, rel=1e-8)
    assert eig[-1] == pytest.approx(1.0, rel=1e-10)


def test_underdetermined_design_has_the_requested_nonzero_spectrum():
    data = make_regression(n=10, dim=40, cond=50.0, seed=2)
    eig = np.linalg.eigvalsh(data.A @ data.A.T / data.n)
    assert eig[-1] / eig[0] == pytest.approx(50.0, rel=1e-8)


def test_sparse_generator_gives_csr_at_the_requested_density():
    data = make_classification(n=2000, dim=50, density=0.05, seed=3)
    assert data.is_sparse and data.A.format == "csr"
    assert data.A.nnz / (2000 * 50) == pytest.approx(0.05, rel=0.05)


def test_generators_are_deterministic_and_labels_well_formed():
    a, b = make_classification(n=300, dim=5, seed=4), make_classification(n=300, dim=5, seed=4)
    np.testing.assert_array_equal(a.A, b.A)
    np.testing.assert_array_equal(a.y, b.y)
    assert set(np.unique(a.y)) == {-1, 1}
    multi = make_classification(n=300, dim=5, n_classes=4, seed=4)
    assert set(np.unique(multi.y)) == {0, 1, 2, 3}
    assert a.fingerprint() == b.fingerprint() != make_classification(n=300, dim=5, seed=5).fingerprint()


@pytest.mark.parametrize(
    ("name", "shape", "labels"),
    [
        ("digits", (1797, 64), set(range(10))),
        ("breast_cancer", (569, 30), {-1, 1}),
        ("diabetes", (442, 10), None),
        ("iris", (150, 4), {0, 1, 2}),
        ("wine", (178, 13), {0, 1, 2}),
    ],
)
def test_bundled_datasets_load_offline(name, shape, labels):
    data = load_bundled(name)
    assert (data.n, data.dim) == shape
    if labels is None:
        assert data.y.dtype == np.float64
    else:
        assert set(np.unique(data.y).tolist()) == labels
    scaled = load_bundled(name, standardize=True)
    np.testing.assert_allclose(scaled.A.mean(axis=0), 0.0, atol=1e-12)


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "iris", "wine", "diabetes"])
def test_bundled_sets_equal_scikit_learns_loaders(monkeypatch, name):
    """The tables scikit-learn stores as one csv are parsed here (its loader must not be the one that answers):
    the values and dtypes of `sklearn.datasets.load_*`; diabetes goes through scikit-learn."""
    import sklearn.datasets

    from sgdlab.data import loaders

    loader = loaders._BUNDLED[name]
    if name != "diabetes":
        monkeypatch.setattr(sklearn.datasets, loader, None)
    ours = load_bundled(name)
    monkeypatch.undo()
    want = getattr(sklearn.datasets, loader)()
    if name != "diabetes":
        features, labels = loaders._read_bundled(loaders._bundled_file(name), header=name != "digits")
        assert features.dtype == want.data.dtype and labels.dtype == want.target.dtype
        np.testing.assert_array_equal(features, want.data)
        np.testing.assert_array_equal(labels, want.target)
    np.testing.assert_array_equal(ours.A, want.data.astype(np.float64))
    labels = want.target
    if labels.dtype.kind in "iu" and np.unique(labels).size == 2:
        labels = np.where(labels == labels.max(), 1, -1)
    np.testing.assert_array_equal(ours.y, labels)


@pytest.mark.parametrize("name", ["digits", "breast_cancer"])
def test_loading_a_bundled_table_does_not_import_scikit_learn(name):
    code = f"import sys; from sgdlab.data import load_bundled; load_bundled({name!r}); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_libsvm_round_trip(tmp_path):
    A = sp.random_array((30, 7), density=0.3, format="csr", rng=0)
    y = np.where(np.arange(30) % 2, 1.0, -1.0)
    path = tmp_path / "data.svm"
    dump_svmlight_file(sp.csr_matrix(A), y, str(path))
    data = load_libsvm(path)
    assert data.is_sparse and data.name == "data"
    np.testing.assert_allclose(data.A.toarray()[:, : A.shape[1]], A.toarray())
    np.testing.assert_array_equal(data.y, y)
    assert load_libsvm(path, n_features=10).dim == 10


def test_libsvm_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_libsvm(tmp_path / "missing.svm")
    bad = tmp_path / "bad.svm"
    bad.write_text("1 1:0.5 2:oops\n")
    with pytest.raises(ValueError, match="malformed LIBSVM file"):
        load_libsvm(bad)


def test_standardize_dense_and_sparse():
    data = Dataset(np.column_stack([np.arange(10.0), np.full(10, 3.0), np.linspace(-5, 9, 10)]), np.arange(10.0))
    dense = standardize(data)
    np.testing.assert_allclose(dense.A.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(dense.A.std(axis=0), [1.0, 0.0, 1.0], atol=1e-12)  # constant column left at 0
    sparse = standardize(Dataset(sp.csr_matrix(data.A), data.y))
    assert sparse.is_sparse
    np.testing.assert_allclose(sparse.A.toarray().std(axis=0), [1.0, 0.0, 1.0], atol=1e-12)


def test_split_intercept_and_dtype():
    data = make_classification(n=100, dim=4, seed=1)
    train, test = data.split(0.2, seed=0)
    assert (train.n, test.n) == (80, 20)
    assert data.with_intercept().dim == 5
    assert np.all(data.with_intercept().A[:, -1] == 1.0)
    assert data.astype(np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="float32 or float64"):
        data.astype(np.int32)
    ints = Dataset(np.arange(6).reshape(3, 2), [1, 2, 3])
    assert ints.dtype == np.float64


def test_values_that_have_an_exact_meaning_are_converted():
    """Booleans are 0/1, a masked array with nothing masked is its data, labels as large as int64 allows are
    kept exactly, and duplicate CSR entries mean their sum (column indices come out sorted, on a copy)."""
    flags = Dataset(np.array([[True, False], [False, True]]), np.array([True, False]))
    assert flags.A.dtype == np.float64 and flags.y.dtype == np.int64
    np.testing.assert_array_equal(flags.A, np.eye(2))
    np.testing.assert_array_equal(flags.y, [1, 0])
    unmasked = Dataset(np.ma.masked_array(GOOD_A), np.ma.masked_array(GOOD_Y))
    np.testing.assert_array_equal(unmasked.A, GOOD_A)
    big = Dataset(np.eye(2), np.array([0, 2**63 - 1], dtype=np.uint64))
    assert big.y.tolist() == [0, 2**63 - 1]
    A = sp.csr_matrix((np.array([1.0, 2.0, 4.0]), np.array([2, 0, 2]), np.array([0, 3, 3])), shape=(2, 3))
    data = Dataset(A, [1.0, 2.0])
    np.testing.assert_array_equal(data.A.toarray(), [[2.0, 0.0, 5.0], [0.0, 0.0, 0.0]])
    assert data.A.has_canonical_format and data.A.indices.tolist() == [0, 2]
    assert A.indices.tolist() == [2, 0, 2]  # the caller's matrix is left as it was


def test_an_invalid_csr_structure_is_refused_before_any_kernel_reads_it():
    A = sp.csr_matrix(np.eye(3))
    A.indices = np.array([0, 1, 3])  # scipy accepts this; the compiled kernels would read past the iterate
    with pytest.raises(ValueError, match=r"column index 3 \(row 2\) is outside 0\.\.2"):
        sl.problems.LeastSquares(Dataset(A, [1.0, 2.0, 3.0]))
    A = sp.csr_matrix(np.eye(3))
    A.indptr = np.array([0, 2, 1, 3])
    with pytest.raises(ValueError, match=r"A\.indptr decreases at row 1"):
        Dataset(A, [1.0, 2.0, 3.0])


def test_libsvm_width(tmp_path):
    path = tmp_path / "wide.svm"
    path.write_text("+1 1:0.5\n-1 3000000:1\n")
    with pytest.raises(ValueError, match=r"line 2: feature index 3000000 would make 3000000 features"):
        load_libsvm(path)
    data = load_libsvm(path, n_features=3_000_000)
    assert data.dim == 3_000_000 and data.A.nnz == 2
    with pytest.raises(ValueError, match="line 2: feature index 3000000 is beyond n_features=2999999"):
        load_libsvm(path, n_features=2_999_999)
    path.write_text("+1 1:0.5\n-1 20000:1\n")
    assert load_libsvm(path).dim == 20_000  # under the 10**6 features allowed without n_features=
    assert load_libsvm(path, dtype=np.float32).dtype == np.float32
