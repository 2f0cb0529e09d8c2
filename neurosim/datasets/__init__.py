"""Data sets for the learning experiments.

Any labelled image set is data (:mod:`neurosim.datasets.labelled`): a known set
found by path / ``$NEUROSIM_DATA`` / cache / checksummed download
(:mod:`neurosim.datasets.known`), the MNIST subset shipped in ``data/``, or a
user's ``.npz``, IDX files or class folders, recorded with their checksums.
Which examples a network sees, and in what order: :mod:`neurosim.datasets.order`.
"""

from neurosim.datasets.idx import read_idx
from neurosim.datasets.known import KNOWN_SETS, KnownSet, cache_dir, known_set
from neurosim.datasets.labelled import (
    DATASET_KEYS,
    DataFile,
    DataSpec,
    LabelledData,
    data_spec,
    image_pixels,
    load_dataset,
)
from neurosim.datasets.mnist import (
    CACHE_ENV,
    DATA_ENV,
    MIRRORS,
    MNIST_SHA256,
    SPLITS,
    SUBSET_ENV,
    SUBSET_SHA256,
    SUBSETS,
    MnistData,
    Subset,
    as_rates,
    load_mnist,
    load_mnist_subset,
    mnist_cache_dir,
    subset_sha256,
)
from neurosim.datasets.order import epoch_order, example_order, order_digest

__all__ = [
    "CACHE_ENV",
    "DATASET_KEYS",
    "DATA_ENV",
    "KNOWN_SETS",
    "MIRRORS",
    "MNIST_SHA256",
    "SPLITS",
    "SUBSETS",
    "SUBSET_ENV",
    "SUBSET_SHA256",
    "DataFile",
    "DataSpec",
    "KnownSet",
    "LabelledData",
    "MnistData",
    "Subset",
    "as_rates",
    "cache_dir",
    "data_spec",
    "epoch_order",
    "example_order",
    "image_pixels",
    "known_set",
    "load_dataset",
    "load_mnist",
    "load_mnist_subset",
    "mnist_cache_dir",
    "order_digest",
    "read_idx",
    "subset_sha256",
]
