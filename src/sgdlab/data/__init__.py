"""Data: the `Dataset` container, synthetic generators, bundled and LIBSVM loaders, scaling."""

from sgdlab.data.dataset import Dataset
from sgdlab.data.loaders import BUNDLED_NAMES, load_bundled, load_libsvm, load_npy
from sgdlab.data.preprocessing import standardize
from sgdlab.data.synthetic import make_classification, make_regression

__all__ = [
    "BUNDLED_NAMES",
    "Dataset",
    "load_bundled",
    "load_libsvm",
    "load_npy",
    "make_classification",
    "make_regression",
    "standardize",
]
