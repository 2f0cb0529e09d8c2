"""MNIST: the full set from IDX files, and the small stratified subset shipped in ``data/``.

The full set is looked up, in order, in an explicit directory, in ``$NEUROSIM_DATA``
and in the cache directory, and is downloaded into the cache when missing. Every
file is checked against the SHA-256 of its decompressed IDX content: the gzip
wrapper differs between mirrors (header name and mtime), the IDX bytes do not.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from http.client import HTTPException
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from neurosim.errors import NeurosimError

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
    "load_mnist",
    "load_mnist_subset",
    "mnist_cache_dir",
    "read_idx",
    "subset_sha256",
]

_log = logging.getLogger(__name__)

DATA_ENV = "NEUROSIM_DATA"
"""Environment variable: a directory holding the MNIST files, directly or in ``mnist/``."""

CACHE_ENV = "NEUROSIM_CACHE"
"""Environment variable: cache root; MNIST downloads go into its ``mnist/`` subfolder."""

SUBSET_ENV = "NEUROSIM_SUBSET"
"""Environment variable: path of an MNIST subset ``.npz`` used instead of the shipped one."""

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
"""Public mirrors of the original IDX files, tried in order."""

SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
"""Split name -> (images file, labels file)."""

MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    "train-labels-idx1-ubyte.gz": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
"""File name -> SHA-256 of its decompressed IDX content (the original LeCun files)."""

SUBSET_SHA256 = "79e86734068f2d9fc04f5009c11f872793bd15944d6d9598c4187c7876d2b066"
"""SHA-256 of the arrays of the shipped ``data/mnist-subset.npz`` (see `subset_sha256`)."""

_SUBSET_NAME = "mnist-subset.npz"
_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049
_IMAGE_SHAPE = (28, 28)
_DOWNLOAD_TIMEOUT_S = 60
_CHUNK = 1 << 20

# IDX type codes (third byte of the magic number); IDX data is big-endian.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


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


def read_idx(path: str | os.PathLike[str], *, magic: int | None = None) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Compression is detected from the content, not the name.
    magic : int, optional
        Required magic number (2051 for MNIST images, 2049 for labels).

    Returns
    -------
    numpy.ndarray
        The array with the shape stored in the header, in native byte order.

    Raises
    ------
    NeurosimError
        If the file cannot be read, or its header is malformed, has another magic
        number than `magic`, or disagrees with the length of the data.
    """
    path = Path(path)
    return _parse_idx(_read_maybe_gzip(path), str(path), magic)


def _read_maybe_gzip(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except FileNotFoundError:
        raise NeurosimError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise NeurosimError(f"cannot read {path}: {exc}") from exc


def _parse_idx(data: bytes, source: str, magic: int | None) -> np.ndarray:
    if len(data) < 4:
        raise NeurosimError(f"{source}: not an IDX file ({len(data)} bytes, no header)")
    found = int.from_bytes(data[:4], "big")
    if magic is not None and found != magic:
        raise NeurosimError(f"{source}: bad IDX magic number {found}, expected {magic}")
    zero, type_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    dtype = _IDX_DTYPES.get(type_code)
    if zero != 0 or dtype is None or ndim == 0:
        raise NeurosimError(f"{source}: bad IDX magic number {found} (0x{found:08x})")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise NeurosimError(f"{source}: IDX header truncated ({len(data)} bytes)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_len + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise NeurosimError(
            f"{source}: IDX header says shape {shape} ({expected} bytes), "
            f"the data has {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def mnist_cache_dir() -> Path:
    """Return the directory that downloads go into.

    Returns
    -------
    pathlib.Path
        ``$NEUROSIM_CACHE/mnist`` if that variable is set, otherwise
        ``${XDG_CACHE_HOME:-~/.cache}/neurosim/mnist``. It may not exist yet.
    """
    cache = os.environ.get(CACHE_ENV)
    if cache:
        return Path(cache).expanduser() / "mnist"
    # XDG says an empty value counts as unset.
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(xdg).expanduser() / "neurosim" / "mnist"


def _search_dirs() -> list[Path]:
    dirs = []
    data = os.environ.get(DATA_ENV)
    if data:
        root = Path(data).expanduser()
        dirs += [root, root / "mnist"]
    dirs.append(mnist_cache_dir())
    return dirs


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
    explicit = path is not None
    dirs = [Path(path).expanduser()] if explicit else _search_dirs()
    images_src, images_data = _fetch(images_name, dirs, explicit, download)
    labels_src, labels_data = _fetch(labels_name, dirs, explicit, download)
    images = _parse_idx(images_data, images_src, _IMAGES_MAGIC)
    labels = _parse_idx(labels_data, labels_src, _LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != _IMAGE_SHAPE or images.dtype != np.uint8:
        raise NeurosimError(f"{images_src}: expected uint8 images (N, 28, 28), got {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8 or len(labels) != len(images):
        raise NeurosimError(
            f"{labels_src}: expected {len(images)} uint8 labels, got shape {labels.shape}"
        )
    if labels.size and labels.max() > 9:
        raise NeurosimError(f"{labels_src}: label {labels.max()} outside 0..9")
    return images, labels


def _fetch(name: str, dirs: list[Path], explicit: bool, download: bool) -> tuple[str, bytes]:
    """Return (where from, verified decompressed content) of `name`."""
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file():
            data = _read_maybe_gzip(candidate)
            return str(candidate), _verified(data, name, str(candidate), "; delete or replace it")
    looked = ", ".join(str(d) for d in dirs)
    if explicit:
        raise NeurosimError(
            f"{name} not found in {looked} (the path argument); "
            f"pass path=None to use ${DATA_ENV}, the cache or a download"
        )
    if not download:
        raise NeurosimError(
            f"{name} not found (looked in {looked}) and download=False; "
            f"set {DATA_ENV} to a directory holding the MNIST files or pass path=..."
        )
    cache = mnist_cache_dir()
    return str(cache / name), _download(name, cache, looked)


def _verified(data: bytes, name: str, source: str, hint: str = "") -> bytes:
    expected = MNIST_SHA256[name]
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise NeurosimError(
            f"checksum mismatch for {source}: decompressed SHA-256 is {actual}, "
            f"expected {expected}{hint}"
        )
    return data


def _download(name: str, cache: Path, looked: str) -> bytes:
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NeurosimError(f"cannot create MNIST cache directory {cache}: {exc}") from exc
    failures = []
    for mirror in MIRRORS:
        url = mirror + name
        _log.info("downloading %s into %s", url, cache)
        try:
            return _download_one(url, cache / name, name)
        except (OSError, HTTPException, NeurosimError) as exc:
            failures.append(f"{url}: {exc}")
    raise NeurosimError(
        f"{name} not found (looked in {looked}) and the download failed "
        f"({'; '.join(failures)}); set {DATA_ENV} to a directory holding the MNIST "
        f"files, pass path=..., or put them in {cache}"
    )


def _download_one(url: str, target: Path, name: str) -> bytes:
    # A temp file in the target's directory, renamed only once verified, means a
    # crash or a concurrent process never leaves a partial file under the final name.
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response,
        ):
            while chunk := response.read(_CHUNK):
                out.write(chunk)
        data = _verified(_read_maybe_gzip(tmp), name, url)
        # mkstemp creates 0600; a cache file is readable like any other download.
        tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return data


def _default_subset_path() -> Path:
    env = os.environ.get(SUBSET_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "data" / _SUBSET_NAME


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
