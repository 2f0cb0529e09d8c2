"""Small fake data sets for the tests: IDX files under a known set's names, a 3-class .npz."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from neurosim.datasets import KNOWN_SETS

IDX = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")}
IDX["test"] = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    header = (0x0800 | array.ndim).to_bytes(4, "big")
    return header + b"".join(d.to_bytes(4, "big") for d in array.shape) + array.tobytes()


def fake_split(rng, n: int, n_classes: int = 10, shape=(28, 28), offset: int = 0):
    images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    # every class present, in an order that differs between seeds (distinct files)
    labels = (rng.permutation(np.arange(n) % n_classes) + offset).astype(np.uint8)
    return images, labels


def write_idx_set(directory: Path, seed: int, names=IDX, n_classes=10, offset=0, gz=True, n=12):
    """Four IDX files under `names`; return {split: (images, labels)} as written."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, (images_name, labels_name) in names.items():
        images, labels = fake_split(rng, max(n, n_classes), n_classes, offset=offset)
        for name, array in ((images_name, images), (labels_name, labels)):
            data = idx_bytes(array)
            (directory / name).write_bytes(gzip.compress(data, mtime=0) if gz else data)
        written[split] = (images, labels)
    return written


def pin_content(monkeypatch, name: str, directory: Path) -> None:
    """Pin a known set's content hashes to the fake files in `directory`."""
    kset = KNOWN_SETS[name]
    for split in kset.files.values():
        for file in split:
            digest = hashlib.sha256(gzip.decompress((directory / file).read_bytes())).hexdigest()
            monkeypatch.setitem(kset.content_sha256, file, digest)


def pin_md5(monkeypatch, name: str, directory: Path) -> None:
    kset = KNOWN_SETS[name]
    for split in kset.files.values():
        for file in split:
            digest = hashlib.md5((directory / file).read_bytes()).hexdigest()
            monkeypatch.setitem(kset.published_md5, file, digest)


def bars_npz(path: Path, n_train=30, n_test=12, names=True, **override) -> Path:
    """A 3-class set of 20 x 20 images (one horizontal bar per class)."""
    rng = np.random.default_rng(0)

    def make(n):
        y = np.arange(n) % 3
        x = rng.integers(0, 30, size=(n, 20, 20)).astype(np.uint8)
        for k, c in enumerate(y):
            x[k, 3 + 5 * c : 7 + 5 * c, 2:18] = 220
        return x, y

    (xt, yt), (xs, ys) = make(n_train), make(n_test)
    arrays = {"x_train": xt, "y_train": yt, "x_test": xs, "y_test": ys}
    if names:
        arrays["classes"] = np.array(["top", "middle", "bottom"])
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez_compressed(path, **arrays)
    return path
