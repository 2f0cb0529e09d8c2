"""Data sets for the learning experiments: MNIST, full and as a small shipped subset."""

from neurosim.datasets.mnist import (
    CACHE_ENV,
    DATA_ENV,
    MIRRORS,
    MNIST_SHA256,
    SPLITS,
    SUBSET_ENV,
    SUBSET_SHA256,
    MnistData,
    as_rates,
    load_mnist,
    load_mnist_subset,
    mnist_cache_dir,
    read_idx,
    subset_sha256,
)
from neurosim.datasets.order import epoch_order, example_order, order_digest

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "MIRRORS",
    "MNIST_SHA256",
    "SPLITS",
    "SUBSET_ENV",
    "SUBSET_SHA256",
    "MnistData",
    "as_rates",
    "epoch_order",
    "example_order",
    "load_mnist",
    "load_mnist_subset",
    "mnist_cache_dir",
    "order_digest",
    "read_idx",
    "subset_sha256",
]
