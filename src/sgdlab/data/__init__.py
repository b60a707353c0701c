"""Data: the `Dataset` container, synthetic generators, bundled, LIBSVM and `.npy` loaders (in memory or
memory-mapped, with a block-by-block writer), scaling."""

from sgdlab.data.dataset import Dataset
from sgdlab.data.loaders import BUNDLED_NAMES, load_bundled, load_libsvm, load_npy
from sgdlab.data.out_of_core import NpyWriter, write_npy
from sgdlab.data.preprocessing import standardize
from sgdlab.data.synthetic import make_classification, make_rare_features, make_regression

__all__ = [
    "BUNDLED_NAMES",
    "Dataset",
    "NpyWriter",
    "load_bundled",
    "load_libsvm",
    "load_npy",
    "make_classification",
    "make_rare_features",
    "make_regression",
    "standardize",
    "write_npy",
]
