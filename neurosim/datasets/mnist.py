"""MNIST: the full set from IDX files, and the small stratified subset shipped in ``data/``.

The full set is looked up, in order, in an explicit directory, in ``$NEUROSIM_DATA``
and in the cache directory, and is downloaded into the cache when missing. Every
file is checked against the SHA-256 of its decompressed IDX content: the gzip
wrapper differs between mirrors (header name and mtime), the IDX bytes do not.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from neurosim.datasets.idx import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, parse_idx, read_idx
from neurosim.datasets.known import (
    CACHE_ENV,
    DATA_ENV,
    KNOWN_SETS,
    MNIST_SHA256,
    cache_dir,
    find_file,
)
from neurosim.errors import NeurosimError

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "MIRRORS",
    "MNIST_SHA256",
    "SPLITS",
    "SUBSETS",
    "SUBSET_ENV",
    "SUBSET_SHA256",
    "MnistData",
    "Subset",
    "as_rates",
    "load_mnist",
    "load_mnist_subset",
    "mnist_cache_dir",
    "read_idx",
    "subset_sha256",
]

SUBSET_ENV = "NEUROSIM_SUBSET"
"""Environment variable: path of an MNIST subset ``.npz`` used instead of the shipped one."""

MIRRORS = KNOWN_SETS["mnist"].mirrors
"""Public mirrors of the original IDX files, tried in order."""

SPLITS = KNOWN_SETS["mnist"].files
"""Split name -> (images file, labels file)."""

SUBSET_SHA256 = "79e86734068f2d9fc04f5009c11f872793bd15944d6d9598c4187c7876d2b066"
"""SHA-256 of the arrays of the shipped ``data/mnist-subset.npz`` (see `subset_sha256`)."""


class Subset(NamedTuple):
    """A small subset of a known set shipped in ``data/`` (``tools/make_mnist_subset.py``)."""

    file: str
    """File name in ``data/``."""
    sha256: str
    """Pinned `subset_sha256` of its arrays."""
    parent: str
    """The known set it is drawn from."""


SUBSETS = {
    "mnist_subset": Subset("mnist-subset.npz", SUBSET_SHA256, "mnist"),
    "fashion_mnist_subset": Subset(
        "fashion-mnist-subset.npz",
        "4a0f1fe2128f7e50c167197f6618f34e9063a6604a297757ac5dfc0f6e4faa6b",
        "fashion_mnist",
    ),
}
"""Name -> :class:`Subset` of every shipped subset (a protocol names them like known sets)."""

_SUBSET_NAME = SUBSETS["mnist_subset"].file
_IMAGE_SHAPE = (28, 28)


class MnistData(NamedTuple):
    """MNIST images and labels, with each example's index in the original set.

    Attributes
    ----------
    train_images, test_images : numpy.ndarray
        ``uint8`` pixels, shape ``(n, 28, 28)``, 0 = background.
    train_labels, test_labels : numpy.ndarray
        ``uint8`` digit classes 0..9, shape ``(n,)``.
    train_indices, test_indices : numpy.ndarray
        ``int32`` position of each example in the original 60,000 training or
        10,000 test images, shape ``(n,)``.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    train_indices: np.ndarray
    test_indices: np.ndarray


def mnist_cache_dir() -> Path:
    """Return the directory that downloads go into.

    Returns
    -------
    pathlib.Path
        ``$NEUROSIM_CACHE/mnist`` if that variable is set, otherwise
        ``${XDG_CACHE_HOME:-~/.cache}/neurosim/mnist``. It may not exist yet.
    """
    return cache_dir("mnist")


def load_mnist(
    split: str = "train",
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the full MNIST training or test set.

    Parameters
    ----------
    split : {"train", "test"}
        60,000 training or 10,000 test examples.
    path : str or os.PathLike, optional
        Directory holding the four IDX ``.gz`` files. When given, it is the only
        place looked in and nothing is downloaded.
    download : bool, default True
        When the files are in neither ``$NEUROSIM_DATA`` (the directory itself or
        its ``mnist/`` subfolder) nor the cache directory (`mnist_cache_dir`),
        download them into the cache from `MIRRORS`.

    Returns
    -------
    images : numpy.ndarray
        ``uint8``, shape ``(N, 28, 28)``.
    labels : numpy.ndarray
        ``uint8`` classes 0..9, shape ``(N,)``.

    Raises
    ------
    NeurosimError
        If `split` is unknown, a file is missing and cannot be downloaded, or a
        file's decompressed content does not match its pinned SHA-256
        (`MNIST_SHA256`) or holds a malformed IDX header.
    """
    if split not in SPLITS:
        raise NeurosimError(f"unknown MNIST split {split!r}; expected 'train' or 'test'")
    images_name, labels_name = SPLITS[split]
    kset = KNOWN_SETS["mnist"]
    images_file = find_file(kset, images_name, path, download=download)
    labels_file = find_file(kset, labels_name, path, download=download)
    images_src, labels_src = images_file.path, labels_file.path
    images = parse_idx(images_file.content, images_src, IDX_IMAGES_MAGIC)
    labels = parse_idx(labels_file.content, labels_src, IDX_LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != _IMAGE_SHAPE or images.dtype != np.uint8:
        raise NeurosimError(f"{images_src}: expected uint8 images (N, 28, 28), got {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8 or len(labels) != len(images):
        raise NeurosimError(
            f"{labels_src}: expected {len(images)} uint8 labels, got shape {labels.shape}"
        )
    if labels.size and labels.max() > 9:
        raise NeurosimError(f"{labels_src}: label {labels.max()} outside 0..9")
    return images, labels


def _default_subset_path(name: str = "mnist_subset") -> Path:
    env = os.environ.get(SUBSET_ENV)
    if env and name == "mnist_subset":
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "data" / SUBSETS[name].file


def subset_sha256(data: MnistData) -> str:
    """Return the SHA-256 that pins the arrays of an MNIST subset.

    The digest covers each field's name, dtype, shape and bytes in field order,
    so it does not depend on how the ``.npz`` container was compressed.

    Parameters
    ----------
    data : MnistData
        The subset.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    digest = hashlib.sha256()
    for name, value in zip(MnistData._fields, data, strict=True):
        array = np.ascontiguousarray(value)
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def load_mnist_subset(
    path: str | os.PathLike[str] | None = None,
    *,
    expected_sha256: str | None = SUBSET_SHA256,
) -> MnistData:
    """Load the small stratified MNIST subset (5,000 training, 1,000 test examples).

    Parameters
    ----------
    path : str or os.PathLike, optional
        The ``.npz`` file. Defaults to ``$NEUROSIM_SUBSET`` if set, otherwise the
        shipped ``data/mnist-subset.npz`` of the repository.
    expected_sha256 : str or None, default SUBSET_SHA256
        Required `subset_sha256` of the arrays; None skips the check (for a subset
        made with other settings by ``tools/make_mnist_subset.py``).

    Returns
    -------
    MnistData
        Images, labels and indices into the original training and test sets.

    Raises
    ------
    NeurosimError
        If the file is missing, unreadable, lacks an array, holds arrays of the
        wrong type or shape, or does not match `expected_sha256`.
    """
    path = Path(path).expanduser() if path is not None else _default_subset_path()
    if not path.is_file():
        raise NeurosimError(
            f"MNIST subset {path} not found; set {SUBSET_ENV} or pass path=... to its .npz file"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = sorted(set(MnistData._fields) - set(npz.files))
            if missing:
                raise NeurosimError(f"MNIST subset {path} lacks arrays {', '.join(missing)}")
            data = MnistData(*(npz[field] for field in MnistData._fields))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise NeurosimError(f"cannot read MNIST subset {path}: {exc}") from exc
    _check_subset_arrays(data, path)
    if expected_sha256 is not None:
        actual = subset_sha256(data)
        if actual != expected_sha256:
            raise NeurosimError(
                f"checksum mismatch for MNIST subset {path}: arrays SHA-256 is {actual}, "
                f"expected {expected_sha256}"
            )
    return data


def _check_subset_arrays(data: MnistData, path: Path) -> None:
    for part in ("train", "test"):
        images, labels, indices = (
            getattr(data, f"{part}_{kind}") for kind in ("images", "labels", "indices")
        )
        n = len(images)
        wanted = {
            "images": (images, np.uint8, (n, *_IMAGE_SHAPE)),
            "labels": (labels, np.uint8, (n,)),
            "indices": (indices, np.int32, (n,)),
        }
        for kind, (array, dtype, shape) in wanted.items():
            if array.dtype != dtype or array.shape != shape:
                raise NeurosimError(
                    f"MNIST subset {path}: {part}_{kind} is {array.dtype} {array.shape}, "
                    f"expected {np.dtype(dtype)} {shape}"
                )


def as_rates(images: np.ndarray, dtype: DTypeLike = np.float64) -> np.ndarray:
    """Scale ``uint8`` pixels to intensities in [0, 1] (pixel / 255).

    Parameters
    ----------
    images : array_like
        Integer pixel values 0..255, any shape.
    dtype : data-type, default float64
        Floating type of the result.

    Returns
    -------
    numpy.ndarray
        Same shape as `images`, values in [0, 1].

    Raises
    ------
    NeurosimError
        If `images` is not integer-typed (already scaled images would silently be
        divided twice) or holds values outside 0..255.
    """
    images = np.asarray(images)
    if not np.issubdtype(images.dtype, np.integer):
        raise NeurosimError(
            f"as_rates expects integer pixels 0..255, got dtype {images.dtype} (already scaled?)"
        )
    if images.size and (images.min() < 0 or images.max() > 255):
        raise NeurosimError(
            f"as_rates expects pixels 0..255, got range {images.min()}..{images.max()}"
        )
    return images.astype(dtype) / np.asarray(255, dtype=dtype)
