"""Loaders for scikit-learn's bundled datasets and LIBSVM files; nothing is downloaded."""

from __future__ import annotations

import codecs
import gzip
import importlib.util
import os
import stat
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from sgdlab import _checks
from sgdlab.data.dataset import FLOAT_DTYPES, Dataset
from sgdlab.data.preprocessing import standardize as _standardize

_BUNDLED = {
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
    "iris": "load_iris",
    "wine": "load_wine",
}
#: The names [`load_bundled`][sgdlab.data.load_bundled] accepts (scikit-learn's bundled datasets).
BUNDLED_NAMES: tuple[str, ...] = tuple(_BUNDLED)


def load_bundled(name: str, standardize: bool = False) -> Dataset:
    """One of scikit-learn's bundled datasets (shipped with scikit-learn: nothing is downloaded).

    Two-class labels come as ±1, more classes as 0..K−1, regression targets (diabetes) as floats.

    Args:
        name: One of [`BUNDLED_NAMES`][sgdlab.data.BUNDLED_NAMES]: `digits`, `breast_cancer`, `diabetes`,
            `iris`, `wine`.
        standardize: Centre and scale every feature (see [`standardize`][sgdlab.data.standardize]).

    Returns:
        The [`Dataset`][sgdlab.data.Dataset], dense float64, named `name`.

    Raises:
        ValueError: `name` is not a bundled dataset.

    Examples:
        >>> from sgdlab.data import load_bundled
        >>> data = load_bundled("breast_cancer", standardize=True)
        >>> data.n, data.dim, sorted(set(data.y.tolist()))
        (569, 30, [-1, 1])
    """
    if name not in _BUNDLED:
        raise ValueError(f"unknown bundled dataset {name!r}; choose one of {', '.join(BUNDLED_NAMES)}")
    found = _bundled_file(name)
    if found is not None:
        X, y = _read_bundled(found, header=name != "digits")
    else:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, _BUNDLED[name])()
        X, y = bunch.data, bunch.target
    if y.dtype.kind in "iu" and np.unique(y).size == 2:
        y = np.where(y == y.max(), 1, -1)
    data = Dataset(X.astype(np.float64), y, name=name)
    return _standardize(data) if standardize else data


#: The bundled sets scikit-learn stores as one table (features, then the integer label); diabetes is stored
#: raw in two files and scaled by its loader, so it goes through scikit-learn.
_CSV_FILES = {"digits": "digits.csv.gz", "breast_cancer": "breast_cancer.csv", "iris": "iris.csv",
              "wine": "wine_data.csv"}  # fmt: skip


def _bundled_file(name: str) -> Path | None:
    """scikit-learn's bundled csv of `name`, found without importing scikit-learn (the import alone takes
    about a second, most of a first `digits_cnn()`); `None` for diabetes, or where scikit-learn lays its data
    out otherwise."""
    spec = importlib.util.find_spec("sklearn") if name in _CSV_FILES else None
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(root) / "datasets" / "data" / _CSV_FILES[name]
        if path.is_file():
            return path
    return None


def _read_bundled(path: Path, header: bool) -> tuple[np.ndarray, np.ndarray]:
    """The features (float64) and labels (int) of a bundled csv, parsed as scikit-learn's loaders parse it: the
    last column is the label; with `header`, the first line (sizes and class names) is skipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        table = np.loadtxt(handle, delimiter=",", skiprows=int(header), ndmin=2)
    return table[:, :-1], table[:, -1].astype(int, copy=False)


#: Without `n_features=`, [`load_libsvm`][sgdlab.data.load_libsvm] refuses files wider than
#: `max(MAX_AUTO_FEATURES, 100 · nnz)` features: one stray huge index would otherwise make every dense iterate
#: that wide.
MAX_AUTO_FEATURES = 1_000_000
_SNIFF_BYTES = 1 << 16


def _regular_file(path: Path, what: str) -> None:
    """Refuse what is not a regular file before opening it (a FIFO would block the process until a writer
    appears)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} file not found: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {what} file {path}: {exc}") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"{what} file {path} is a directory")
    if not stat.S_ISREG(mode):
        raise ValueError(f"{what} file {path} is not a regular file (a FIFO, device or socket)")


def _libsvm_line(path: Path, row: int, width: int) -> tuple[str, int]:
    """Where sample `row` is (lines left empty once comments are cut hold no sample) and the largest feature
    index written on it, for error messages."""
    with open(path, "rb") as handle:
        sample = -1
        for number, line in enumerate(handle, start=1):
            content = line.split(b"#", 1)[0].split()
            sample += bool(content)
            if content and sample == row:
                indices = [token.split(b":")[0] for token in content[1:] if not token.startswith(b"qid:")]
                return f"line {number}", max(int(index) for index in indices)
    return f"sample {row + 1}", width


def load_libsvm(
    path: str | os.PathLike,
    n_features: int | None = None,
    dtype: type = np.float64,
    name: str | None = None,
) -> Dataset:
    """A LIBSVM/svmlight file as a CSR dataset.

    Parsed by scikit-learn's `load_svmlight_file`; indices are 1-based unless the file uses index 0. Without
    `n_features` the width is the largest index, and a width above `max(MAX_AUTO_FEATURES, 100 · nnz)`
    (10⁶ features, or 100 per stored value) is refused: a stray huge index would make every iterate that
    wide — pass `n_features=` for truly wide data.

    Args:
        path: The file.
        n_features: The width; a feature index beyond it is an error naming its line.
        dtype: `numpy.float32` or `numpy.float64`.
        name: The dataset's name (default: the file's stem).

    Returns:
        The [`Dataset`][sgdlab.data.Dataset], with a CSR design and the file's labels.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is a directory, a special file, binary or malformed, holds no samples, is too
            wide, or `dtype` is not a float type.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from sgdlab.data import load_libsvm
        >>> path = Path(tempfile.mkdtemp()) / "tiny.svm"
        >>> _ = path.write_text("+1 1:0.5 3:2\\n-1 2:1\\n")
        >>> data = load_libsvm(path)
        >>> data.n, data.dim, data.is_sparse, data.y.tolist()
        (2, 3, True, [1.0, -1.0])
    """
    from sklearn.datasets import load_svmlight_file

    path = Path(path)
    try:
        valid_dtype = np.dtype(dtype).type in FLOAT_DTYPES
    except TypeError:
        valid_dtype = False
    if not valid_dtype:
        raise ValueError(f"dtype must be float32 or float64, got {getattr(dtype, '__name__', repr(dtype))}")
    if n_features is not None:
        n_features = _checks.positive_int("n_features", n_features)
    _regular_file(path, "LIBSVM")
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    try:
        if b"\0" in head:
            raise UnicodeDecodeError("utf-8", head, 0, 1, "NUL byte")
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a LIBSVM text file: it holds binary data") from None
    try:
        A, y = load_svmlight_file(str(path), dtype=dtype)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed LIBSVM file {path}: {exc}") from None
    A = A.tocsr()
    width = A.shape[1]
    limit = n_features if n_features is not None else max(MAX_AUTO_FEATURES, 100 * A.nnz)
    if A.nnz and width > limit:
        row = int(np.searchsorted(A.indptr, int(np.argmax(A.indices)), side="right") - 1)
        where, index = _libsvm_line(path, row, width)
        if n_features is not None:
            raise ValueError(f"{path}, {where}: feature index {index} is beyond n_features={n_features}")
        raise ValueError(
            f"{path}, {where}: feature index {index} would make {width} features, more than the "
            f"{limit} allowed without n_features= (max(10**6, 100 per stored value)); pass n_features= "
            "to load data this wide"
        )
    if A.shape[0] == 0:
        raise ValueError(f"LIBSVM file {path} holds no samples")
    if n_features is not None:
        A = sp.csr_matrix((A.data, A.indices, A.indptr), shape=(A.shape[0], n_features))
    try:
        return Dataset(A, y, name=name or path.stem)
    except ValueError as exc:
        raise ValueError(f"LIBSVM file {path}: {exc}") from None


def _load_array(path: Path, what: str) -> np.ndarray:
    _regular_file(path, what)
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:  # bad header, object arrays, truncated data
        raise ValueError(f"malformed .npy file {path}: {exc}") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read {path} as a .npy file: {exc}") from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise ValueError(f"{path} holds several arrays (an .npz archive?); give one .npy file per array")
    return array


def load_npy(
    A_path: str | os.PathLike,
    y_path: str | os.PathLike,
    name: str | None = None,
    mmap: bool = False,
    block_rows: int | None = None,
) -> Dataset:
    """A dataset from two `.npy` files: the design matrix (n × dim) and the targets (n).

    Pickled (object) arrays are refused. With `mmap=True` the data stay on disk (see
    [`Dataset.from_npy`][sgdlab.data.Dataset.from_npy]): `A` must then be float32 or float64 in C order, it
    is validated `block_rows` rows at a time, and problems read it in blocks, so resident memory does not
    grow with n. [`write_npy`][sgdlab.data.write_npy] writes such files from chunks.

    Args:
        A_path: The design matrix's file.
        y_path: The targets' file.
        name: The dataset's name (default: the design file's stem).
        mmap: Memory-map the files instead of reading them.
        block_rows: Rows per block for validating memory-mapped data (default: about 64 MiB a block).

    Returns:
        The [`Dataset`][sgdlab.data.Dataset].

    Raises:
        FileNotFoundError: A file does not exist.
        ValueError: A file is not a readable `.npy` array (an `.npz`, pickled, truncated), the arrays do not
            fit together, or `block_rows` is given without `mmap=True`.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from sgdlab.data import load_npy
        >>> folder = Path(tempfile.mkdtemp())
        >>> np.save(folder / "A.npy", np.eye(3)); np.save(folder / "y.npy", np.arange(3.0))
        >>> data = load_npy(folder / "A.npy", folder / "y.npy", mmap=True)
        >>> data.n, data.dim, data.is_out_of_core
        (3, 3, True)
    """
    A_path, y_path = Path(A_path), Path(y_path)
    if mmap:
        return Dataset.from_npy(A_path, y_path, name=name, block_rows=block_rows)
    if block_rows is not None:
        raise ValueError("block_rows applies to memory-mapped data only (mmap=True)")
    return Dataset(_load_array(A_path, "design matrix"), _load_array(y_path, "targets"), name=name or A_path.stem)
