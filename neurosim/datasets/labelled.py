"""Any labelled image data set as data: a spec names it, a loader reads and records it.

A protocol's ``dataset:`` is one of

- a known set's name (:data:`neurosim.datasets.known.KNOWN_SETS`: ``mnist``,
  ``fashion_mnist``, ``kmnist``, ``emnist_balanced``, ``emnist_letters``,
  ``emnist_digits``), found and checked against its pins
  (:mod:`neurosim.datasets.known`), or a subset shipped in ``data/``
  (``mnist_subset``, ``fashion_mnist_subset``: :data:`neurosim.datasets.SUBSETS`);
- a path: an ``.npz`` file with arrays ``x_train, y_train, x_test, y_test``
  (and optionally ``classes``), a folder holding the four IDX files under
  MNIST's names, or a folder with ``train/`` and ``test/`` subfolders of one
  folder of images per class;
- a mapping: ``{name: fashion_mnist, path: DIR}`` (a known set in a given
  folder), ``{path: FILE_OR_DIR, format: npz|idx|folder}``, or the four IDX
  files one by one (``train_images, train_labels, test_images, test_labels``).

Image size and number of classes come from the data. Files of user data sets
are not pinned: their SHA-256 is computed and recorded (:meth:`LabelledData.provenance`),
so that a recording names exactly the bytes it was made from.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurosim.datasets.idx import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, parse_idx
from neurosim.datasets.known import KNOWN_SETS, find_file, known_set, read_maybe_gzip_bytes
from neurosim.datasets.mnist import SUBSETS, _default_subset_path, load_mnist_subset
from neurosim.errors import NeurosimError
from neurosim.memory import require_memory
from neurosim.paths import user_path

__all__ = [
    "DATASET_KEYS",
    "DataFile",
    "DataSpec",
    "LabelledData",
    "data_spec",
    "image_pixels",
    "load_dataset",
]

#: Keys of a ``dataset:`` mapping and what each must be.
DATASET_KEYS = {
    "name": "a known set's name (where the files are given by path) or a label for user data",
    "path": "an .npz file, a folder of IDX files, or a folder with train/ and test/ class folders",
    "format": "npz, idx or folder (default: from the path)",
    "train_images": "IDX file of the training images",
    "train_labels": "IDX file of the training labels",
    "test_images": "IDX file of the test images",
    "test_labels": "IDX file of the test labels",
}

_FORMATS = ("npz", "idx", "folder")
_IDX_ROLES = ("train_images", "train_labels", "test_images", "test_labels")
_NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".tif", ".tiff")
# A label count this large is a sign of regression targets or corrupt labels, not classes.
_MAX_CLASSES = 10_000
_MAX_IMAGE_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class DataFile:
    """One file a data set was read from."""

    role: str
    """What it holds (``train_images``, ``npz``, ``train/`` ...)."""
    path: str
    """Where it was read."""
    sha256: str
    """SHA-256 of its bytes as stored (for a folder: of its files' names and hashes)."""
    content_sha256: str | None = None
    """SHA-256 of a known set's decompressed IDX content: the same whichever mirror or
    distribution gzipped the file, so that a run resumed on another copy is recognised."""


@dataclass(frozen=True)
class DataSpec:
    """A validated ``dataset:`` value (see the module docstring)."""

    name: str
    """Known set's name, ``mnist_subset``, or a label for user data."""
    format: str
    """``known``, ``subset``, ``npz``, ``idx`` or ``folder``."""
    path: str | None = None
    """The file or folder (None: a known set looked up as usual)."""
    files: tuple[tuple[str, str], ...] = ()
    """(role, path) of IDX files given one by one."""

    def describe(self) -> str:
        """A short human-readable name (for messages and plot titles)."""
        return self.name if self.path is None else f"{self.name} ({self.path})"


@dataclass(frozen=True)
class LabelledData:
    """A labelled image data set, split into training and test examples.

    Images are kept as read (``uint8`` pixels 0..255, or floats in [0, 1]);
    :meth:`intensities` gives the [0, 1] values the networks see. Labels are
    ``int64`` class indices ``0 .. n_classes - 1``.
    """

    spec: DataSpec
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]
    files: tuple[DataFile, ...]
    train_indices: np.ndarray | None = None
    """Position of each training example in its original set (subsets only)."""
    test_indices: np.ndarray | None = None

    @property
    def name(self) -> str:
        """The data set's name."""
        return self.spec.name

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image (rows, columns)."""
        return tuple(self.train_images.shape[1:])

    @property
    def n_inputs(self) -> int:
        """Pixels per image: the input layer's size."""
        return math.prod(self.image_shape)

    @property
    def n_classes(self) -> int:
        """Number of classes: the output layer's size."""
        return len(self.classes)

    def intensities(self, split: str) -> np.ndarray:
        """Images of ``split`` ("train" or "test") as float64 intensities in [0, 1]."""
        images = self.train_images if split == "train" else self.test_images
        if np.issubdtype(images.dtype, np.integer):
            return images.astype(np.float64) / 255.0
        return images.astype(np.float64)

    def provenance(
        self,
        *,
        n_train: int | None = None,
        n_test: int | None = None,
        seed: int | None = None,
        shuffle: bool | None = None,
    ) -> dict[str, Any]:
        """Attributes that trace a run to its exact data.

        Parameters
        ----------
        n_train, n_test : int, optional
            Examples used: the first ``n_train`` training and ``n_test`` test
            examples of the files (default all).
        seed : int, optional
            Seed of the per-epoch shuffles (:func:`neurosim.datasets.epoch_order`).
        shuffle : bool, optional
            Whether the training examples were shuffled every epoch.

        Returns
        -------
        dict
            ``data_name``, ``data_format``, ``data_files`` (JSON list of role,
            path, sha256), ``data_classes`` (JSON), ``data_image_shape``,
            ``data_train_examples``, ``data_test_examples``, and when given
            ``data_order_seed`` and ``data_shuffle``: scalars and strings, as
            netCDF attributes must be.
        """
        out: dict[str, Any] = {
            "data_name": self.name,
            "data_format": self.spec.format,
            "data_files": json.dumps([vars(f) for f in self.files]),
            "data_classes": json.dumps(list(self.classes)),
            "data_image_shape": json.dumps(list(self.image_shape)),
            "data_train_examples": _first(n_train, len(self.train_labels)),
            "data_test_examples": _first(n_test, len(self.test_labels)),
        }
        if seed is not None:
            out["data_order_seed"] = int(seed)
        if shuffle is not None:
            out["data_shuffle"] = int(bool(shuffle))
        return out


def _first(n: int | None, total: int) -> int:
    """How many of a split's examples "the first n" are (None: all; more than it holds: all)."""
    return total if n is None else min(int(n), total)


def data_spec(value: Any, where: str = "dataset") -> DataSpec:
    """Validate a ``dataset:`` value (string or mapping); one line naming `where` if wrong."""
    from neurosim.schema import check_keys, expect

    if isinstance(value, str):
        if value in SUBSETS:
            return DataSpec(value, "subset")
        if value in KNOWN_SETS:
            return DataSpec(value, "known")
        if os.sep in value or value.startswith(("~", ".")) or Path(value).suffix == ".npz":
            return _path_spec(None, value, None, where)
        known_set(value, where)  # raises, listing the known names
    spec = check_keys(
        expect(value, dict, where, "a known set's name, a path or a mapping"),
        where,
        (),
        tuple(DATASET_KEYS),
    )
    for key, item in spec.items():
        expect(item, str, f"{where}.{key}", DATASET_KEYS[key])
    given = [r for r in _IDX_ROLES if r in spec]
    if given:
        if len(given) < 4 or "path" in spec:
            missing = sorted(set(_IDX_ROLES) - set(given))
            raise NeurosimError(
                f"{where}: give all four IDX files ({', '.join(_IDX_ROLES)}) and no path"
                + (f"; missing {', '.join(missing)}" if missing else "")
            )
        files = tuple((r, str(user_path(spec[r], f"{where}.{r}"))) for r in _IDX_ROLES)
        for role, path in files:
            if not Path(path).is_file():
                raise NeurosimError(f"{where}.{role}: no such file {path}")
        return DataSpec(spec.get("name", Path(files[0][1]).parent.name), "idx", None, files)
    name = spec.get("name")
    if name in KNOWN_SETS or name in SUBSETS:
        if "format" in spec:
            raise NeurosimError(f"{where}.format: a known set ({name}) has its own format")
        if name in SUBSETS:
            path = spec.get("path")
            return DataSpec(name, "subset", str(user_path(path, f"{where}.path")) if path else None)
        path = spec.get("path")
        return DataSpec(name, "known", str(user_path(path, f"{where}.path")) if path else None)
    if "path" not in spec:
        known_set(str(name), f"{where}.name")  # unknown name without a path: list the names
    return _path_spec(name, spec["path"], spec.get("format"), where)


def _path_spec(name: str | None, path: str, fmt: str | None, where: str) -> DataSpec:
    p = user_path(path, where)
    if not p.exists():
        raise NeurosimError(f"{where}: no such file or folder {p}")
    if fmt is None:
        if p.is_file():
            fmt = "npz"
        elif (p / "train").is_dir() and (p / "test").is_dir():
            fmt = "folder"
        else:
            fmt = "idx"
    if fmt not in _FORMATS:
        raise NeurosimError(f"{where}.format: expected one of {', '.join(_FORMATS)}, got {fmt!r}")
    if fmt == "npz" and not p.is_file():
        raise NeurosimError(f"{where}: {p} is a folder, format npz needs a file")
    if fmt != "npz" and not p.is_dir():
        raise NeurosimError(f"{where}: {p} is a file, format {fmt} needs a folder")
    label = name or (p.stem if p.is_file() else p.name)
    if fmt == "idx":
        names = KNOWN_SETS["mnist"].files
        files = tuple(
            (role, str(p / names[role.split("_")[0]][k % 2])) for k, role in enumerate(_IDX_ROLES)
        )
        for _, file in files:
            if not Path(file).is_file() and not Path(file.removesuffix(".gz")).is_file():
                raise NeurosimError(
                    f"{where}: {p} holds no {Path(file).name} (an IDX folder needs MNIST's "
                    "four file names; give the files one by one as train_images: ... otherwise)"
                )
        files = tuple((r, f if Path(f).is_file() else f.removesuffix(".gz")) for r, f in files)
        return DataSpec(label, "idx", str(p), files)
    return DataSpec(label, fmt, str(p))


def load_dataset(spec: DataSpec | Any, where: str = "dataset") -> LabelledData:
    """Read the data set a spec names (a :class:`DataSpec` or a raw ``dataset:`` value).

    Raises
    ------
    NeurosimError
        One line naming the file and what is wrong with it: missing, unreadable,
        a checksum that does not match a known set's pin, arrays of the wrong
        type or shape, labels that are not class indices.
    """
    if not isinstance(spec, DataSpec):
        spec = data_spec(spec, where)
    if spec.format == "subset":
        return _load_subset(spec)
    if spec.format == "known":
        return _load_known(spec)
    if spec.format == "npz":
        return _load_npz(spec)
    if spec.format == "folder":
        return _load_folder(spec)
    return _load_idx(spec)


#: Pixels per image of every known set and shipped subset (28 x 28).
KNOWN_PIXELS = 28 * 28


def image_pixels(spec: DataSpec) -> int | None:
    """Pixels per image of the data a spec names, read from headers only (None: unknown).

    For memory estimates made before anything is loaded: a known set's images
    are 28 x 28; an .npz's shape is in its array header, an IDX file's in its
    first bytes, a folder's in its first image's header. A file that cannot be
    read answers None here and gets its one-line error when it is loaded.
    """
    try:
        if spec.format in ("known", "subset"):
            return KNOWN_PIXELS
        if spec.format == "npz":
            shape = _npz_shapes(Path(spec.path)).get("x_train")
            if shape is None or len(shape) < 2:
                return None
            return math.prod(shape[1:])
        if spec.format == "idx":
            path = Path(dict(spec.files)["train_images"])
            with open(path, "rb") as f:
                head = f.read(2)
            opener = gzip.open if head == b"\x1f\x8b" else open
            with opener(path, "rb") as f:
                header = f.read(16)
            if len(header) < 16 or header[2] != 0x08 or header[3] != 3:
                return None
            return int.from_bytes(header[8:12], "big") * int.from_bytes(header[12:16], "big")
        if spec.format == "folder":
            from PIL import Image

            first = next(
                p
                for p in sorted((Path(spec.path) / "train").rglob("*"))
                if p.suffix.lower() in _IMAGE_SUFFIXES
            )
            with Image.open(first) as img:
                return img.width * img.height
    except (OSError, ValueError, KeyError, EOFError, StopIteration, zipfile.BadZipFile, zlib.error):
        return None
    return None


def _from_arrays(spec: DataSpec, arrays: dict, classes, files) -> LabelledData:
    parts = (arrays[r] for r in _IDX_ROLES)
    return LabelledData(spec, *parts, tuple(classes), tuple(files))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _load_subset(spec: DataSpec) -> LabelledData:
    subset = SUBSETS[spec.name]
    path = Path(spec.path) if spec.path else _default_subset_path(spec.name)
    data = load_mnist_subset(path, expected_sha256=subset.sha256)
    return LabelledData(
        spec,
        data.train_images,
        data.train_labels.astype(np.int64),
        data.test_images,
        data.test_labels.astype(np.int64),
        KNOWN_SETS[subset.parent].classes,
        (DataFile("npz", str(path), _sha256_file(path)),),
        data.train_indices,
        data.test_indices,
    )


def _load_known(spec: DataSpec) -> LabelledData:
    kset = KNOWN_SETS[spec.name]
    arrays, files = {}, []
    for split, (images_name, labels_name) in kset.files.items():
        for role, name, magic in (
            ("images", images_name, IDX_IMAGES_MAGIC),
            ("labels", labels_name, IDX_LABELS_MAGIC),
        ):
            found = find_file(kset, name, spec.path)
            arrays[f"{split}_{role}"] = parse_idx(found.content, found.path, magic)
            content = hashlib.sha256(found.content).hexdigest()
            files.append(DataFile(f"{split}_{role}", found.path, found.sha256, content))
    for split in kset.files:
        images = arrays[f"{split}_images"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise NeurosimError(
                f"{files[0].path}: expected uint8 images (N, rows, columns), got {images.shape}"
            )
        if kset.transposed:
            arrays[f"{split}_images"] = np.ascontiguousarray(images.transpose(0, 2, 1))
        labels = arrays[f"{split}_labels"].astype(np.int64) - kset.label_offset
        arrays[f"{split}_labels"] = labels
    where = {f.role: f.path for f in files}
    _check_arrays(arrays, where, len(kset.classes))
    return _from_arrays(spec, arrays, kset.classes, tuple(files))


def _load_idx(spec: DataSpec) -> LabelledData:
    arrays, files = {}, []
    for role, path in spec.files:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise NeurosimError(f"cannot read {p}: {exc}") from exc
        magic = IDX_IMAGES_MAGIC if role.endswith("images") else IDX_LABELS_MAGIC
        array = parse_idx(read_maybe_gzip_bytes(raw, p), str(p), magic)
        arrays[role] = array if role.endswith("images") else array.astype(np.int64)
        files.append(DataFile(role, str(p), hashlib.sha256(raw).hexdigest()))
    where = dict(spec.files)
    n_classes = _count_classes(arrays, where)
    _check_arrays(arrays, where, n_classes)
    return _from_arrays(spec, arrays, tuple(str(k) for k in range(n_classes)), tuple(files))


def _load_npz(spec: DataSpec) -> LabelledData:
    path = Path(spec.path)
    try:
        require_memory(
            _npz_sizes(path), str(path), "use fewer examples or smaller images", "the data set"
        )
        with np.load(path, allow_pickle=False) as npz:
            missing = [a for a in _NPZ_ARRAYS if a not in npz.files]
            if missing:
                raise NeurosimError(
                    f"{path}: lacks array(s) {', '.join(missing)} "
                    f"(an .npz data set holds {', '.join(_NPZ_ARRAYS)})"
                )
            loaded = {a: npz[a] for a in _NPZ_ARRAYS}
            names = npz["classes"] if "classes" in npz.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise NeurosimError(f"cannot read {path}: {exc}") from exc
    arrays = {}
    for split in ("train", "test"):
        images, labels = loaded[f"x_{split}"], loaded[f"y_{split}"]
        arrays[f"{split}_images"] = _as_images(images, f"{path}: x_{split}")
        arrays[f"{split}_labels"] = _as_labels(labels, f"{path}: y_{split}")
    where = {r: f"{path}: {a}" for r, a in zip(_IDX_ROLES, _NPZ_ARRAYS, strict=True)}
    n_classes = _count_classes(arrays, where)
    if names is not None:
        names = np.asarray(names).reshape(-1)
        if names.dtype.kind not in "US" or len(names) != n_classes:
            raise NeurosimError(
                f"{path}: classes has to be {n_classes} strings (one per label), got "
                f"{names.dtype} {names.shape}"
            )
        classes = tuple(str(n) for n in names)
    else:
        classes = tuple(str(k) for k in range(n_classes))
    _check_arrays(arrays, where, n_classes)
    return _from_arrays(spec, arrays, classes, (DataFile("npz", str(path), _sha256_file(path)),))


def _npz_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """(shape, dtype) of each array of an .npz, read from the headers only."""
    headers = {}
    with zipfile.ZipFile(path) as zf:
        for name in _NPZ_ARRAYS:
            if f"{name}.npy" not in zf.namelist():
                continue
            with zf.open(f"{name}.npy") as f:
                fmt = np.lib.format
                version = fmt.read_magic(f)
                read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                shape, _, dtype = read(f)
            headers[name] = (tuple(shape), dtype)
    return headers


def _npz_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    return {name: shape for name, (shape, _) in _npz_headers(path).items()}


def _npz_sizes(path: Path) -> dict[str, float]:
    """Bytes each array of an .npz takes loaded, images also as float64 (headers only)."""
    return {
        name: math.prod(shape) * (dtype.itemsize + (8 if name.startswith("x") else 0))
        for name, (shape, dtype) in _npz_headers(path).items()
    }


def _load_folder(spec: DataSpec) -> LabelledData:
    from PIL import Image, UnidentifiedImageError

    root = Path(spec.path)
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise NeurosimError(f"{root}: no {split}/ folder (class folders need train/ and test/)")
    classes = sorted(
        d.name for d in (root / "train").iterdir() if d.is_dir() and not d.name.startswith(".")
    )
    if len(classes) < 2:
        raise NeurosimError(f"{root / 'train'}: needs one folder per class, found {len(classes)}")
    arrays, digest = {}, hashlib.sha256()
    for split in ("train", "test"):
        extra = sorted(
            d.name for d in (root / split).iterdir() if d.is_dir() and d.name not in classes
        )
        if extra:
            raise NeurosimError(
                f"{root / split}: class folder(s) {', '.join(extra)} not in {root / 'train'}"
            )
        images, labels = [], []
        for k, name in enumerate(classes):
            folder = root / split / name
            paths = (
                sorted(p for p in folder.glob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)
                if folder.is_dir()
                else []
            )
            for p in paths:
                raw = p.read_bytes()
                digest.update(f"{split}/{name}/{p.name}:".encode())
                digest.update(hashlib.sha256(raw).digest())
                try:
                    with Image.open(p) as img:
                        images.append(_grey(img, p))
                except (OSError, UnidentifiedImageError) as exc:
                    raise NeurosimError(f"cannot read image {p}: {exc}") from exc
                if images[-1].shape != images[0].shape:
                    raise NeurosimError(
                        f"{p}: image is {images[-1].shape}, the first one {images[0].shape}; "
                        "all images of a data set have one size"
                    )
                labels.append(k)
        if not images:
            raise NeurosimError(f"{root / split}: no images (.png, .jpg, ...) in its class folders")
        if any(im.dtype != np.uint8 for im in images):
            # 16-bit images among them: every image as [0, 1] intensities, none clipped
            images = [im / 255.0 if im.dtype == np.uint8 else im for im in images]
        arrays[f"{split}_images"] = np.stack(images)
        arrays[f"{split}_labels"] = np.asarray(labels, dtype=np.int64)
    where = {r: str(root / r.split("_")[0]) for r in _IDX_ROLES}
    _check_arrays(arrays, where, len(classes))
    return _from_arrays(
        spec, arrays, tuple(classes), (DataFile("folder", str(root), digest.hexdigest()),)
    )


def _grey(img, path: Path) -> np.ndarray:
    """One image as grey values: uint8 for 8-bit images, [0, 1] floats for 16-bit ones.

    Pillow's ``convert("L")`` clips 16-bit grey values above 255 rather than
    scaling them, which would turn most of a 16-bit image white.
    """
    if img.mode.startswith("I;16"):
        return np.asarray(img, dtype=np.float64) / 65535.0
    if img.mode in ("I", "F"):
        raise NeurosimError(
            f"{path}: 32-bit image (mode {img.mode}) whose grey scale is unknown; "
            "save it as 8- or 16-bit grey"
        )
    return np.asarray(img.convert("L"), dtype=np.uint8)


def _as_images(images: np.ndarray, where: str) -> np.ndarray:
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        shape = (side, side) if side * side == images.shape[1] else (1, images.shape[1])
        images = images.reshape(len(images), *shape)
    if images.ndim != 3:
        raise NeurosimError(
            f"{where}: images have to be (N, rows, columns) or (N, pixels) grey values, "
            f"got shape {images.shape}"
        )
    if math.prod(images.shape[1:]) > _MAX_IMAGE_PIXELS:
        raise NeurosimError(f"{where}: images of {images.shape[1:]} pixels are too large")
    if np.issubdtype(images.dtype, np.integer):
        if images.size and (images.min() < 0 or images.max() > 255):
            raise NeurosimError(
                f"{where}: integer pixels have to be 0..255, got {images.min()}..{images.max()}"
            )
        return images.astype(np.uint8)
    if np.issubdtype(images.dtype, np.floating):
        if images.size and not (
            np.isfinite(images).all() and 0 <= images.min() <= images.max() <= 1
        ):
            raise NeurosimError(
                f"{where}: float pixels have to lie in [0, 1], got {np.nanmin(images)}.."
                f"{np.nanmax(images)}"
            )
        return images.astype(np.float32)
    raise NeurosimError(f"{where}: pixels have to be numbers, got dtype {images.dtype}")


def _as_labels(labels: np.ndarray, where: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise NeurosimError(f"{where}: labels have to be one integer per image, got {labels.shape}")
    if labels.dtype.kind == "f" and labels.size and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise NeurosimError(f"{where}: labels have to be integer class indices, got {labels.dtype}")
    return labels.astype(np.int64)


def _count_classes(arrays: dict[str, np.ndarray], where: dict[str, str]) -> int:
    sizes = {r: arrays[r].size for r in ("train_labels", "test_labels")}
    for role, size in sizes.items():
        if size == 0:
            raise NeurosimError(f"{where[role]}: no {role.split('_')[0]} examples")
    top = max(int(arrays[r].max()) for r in sizes)
    if top + 1 > _MAX_CLASSES:
        raise NeurosimError(
            f"{where['train_labels']}: label {top} means {top + 1} classes; at most {_MAX_CLASSES}"
        )
    return top + 1


def _check_arrays(arrays: dict[str, np.ndarray], where: dict[str, str], n_classes: int) -> None:
    """Shapes agree, labels are class indices, every class has training examples."""
    shape = arrays["train_images"].shape[1:]
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        at = where[f"{split}_labels"]
        if len(labels) != len(images):
            raise NeurosimError(f"{at}: {len(labels)} labels for {len(images)} images")
        if len(images) == 0:
            raise NeurosimError(f"{where[f'{split}_images']}: no {split} images")
        if images.shape[1:] != shape:
            raise NeurosimError(
                f"{where[f'{split}_images']}: images are {images.shape[1:]}, "
                f"the training images {shape}"
            )
        if labels.min() < 0 or labels.max() >= n_classes:
            raise NeurosimError(
                f"{at}: labels have to be class indices 0..{n_classes - 1}, "
                f"got {labels.min()}..{labels.max()}"
            )
    counts = np.bincount(arrays["train_labels"], minlength=n_classes)
    if n_classes < 2:
        raise NeurosimError(f"{where['train_labels']}: one class only; a classifier needs two")
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise NeurosimError(
            f"{where['train_labels']}: class(es) {', '.join(map(str, empty[:10]))} have no "
            "training examples (labels have to be 0..K-1 with every class present)"
        )
