"""Known image data sets: where their files are looked for, their pins, their download.

A known set is data about a set, not code: its file names, classes, the pins
its files are checked against, its mirrors or archive, and how its storage
differs from MNIST's (EMNIST stores every image transposed; EMNIST letters
counts its classes from 1). One lookup serves them all, in this order:

1. an explicit directory (``path``): the only place looked in, nothing downloaded;
2. ``$NEUROSIM_DATA``: its subfolders named after the set (``fashion_mnist/``,
   ``fashion-mnist/``, ...), then the folder itself;
3. the cache, ``$NEUROSIM_CACHE/<name>`` (else ``~/.cache/neurosim/<name>``);
4. system data folders (:data:`SYSTEM_DATA_DIRS`, where Debian's
   ``dataset-fashion-mnist`` package puts its files);
5. a download into the cache from the set's mirrors, verified before it is
   given its final name.

Pins are of two kinds. Where the IDX content is known (MNIST, Fashion-MNIST),
a file is checked against the SHA-256 of its decompressed content, which does
not depend on how a mirror or a distribution re-gzipped it. Where only the
publisher's MD5 of the ``.gz`` file is known (KMNIST, EMNIST: the values the
publishers list and torchvision checks), the ``.gz`` file is checked against
it. A file found in a shared folder whose content is another known set's
(MNIST files where Fashion-MNIST was asked for) is passed over, not refused;
any other mismatch is one line naming the file and both hashes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

from neurosim.errors import NeurosimError, one_line
from neurosim.paths import user_path

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "KNOWN_SETS",
    "SYSTEM_DATA_DIRS",
    "FoundFile",
    "KnownSet",
    "cache_dir",
    "find_file",
    "known_set",
]

_log = logging.getLogger(__name__)

DATA_ENV = "NEUROSIM_DATA"
"""Environment variable: a directory holding a set's files, directly or in a subfolder
named after the set (``mnist/``, ``fashion_mnist/`` ...)."""

CACHE_ENV = "NEUROSIM_CACHE"
"""Environment variable: cache root; a set's downloads go into its ``<name>/`` subfolder."""

SYSTEM_DATA_DIRS: list[Path] = [Path("/usr/share/datasets")]
"""Folders searched after the cache (Debian's data set packages install here)."""

_DOWNLOAD_TIMEOUT_S = 60
_CHUNK = 1 << 20


@dataclass(frozen=True)
class KnownSet:
    """One known data set: files, classes, pins and sources.

    Attributes
    ----------
    name : str
        Key used in protocols (``training.dataset: fashion_mnist``).
    title : str
        Human-readable name.
    files : dict
        Split (``"train"``, ``"test"``) -> (images file name, labels file name).
    classes : tuple of str
        Class names, in label order.
    content_sha256 : dict
        File name -> SHA-256 of its decompressed IDX content (empty if unknown).
    published_md5 : dict
        File name -> MD5 of the ``.gz`` file as its publisher distributes it.
    mirrors : tuple of str
        Base URLs serving the ``.gz`` files, tried in order.
    archive : tuple or None
        (URL, MD5, member folder) of a zip archive holding the files (EMNIST).
    folders : tuple of str
        Subfolder names searched under ``$NEUROSIM_DATA`` and the system folders.
    transposed : bool
        Images are stored transposed (EMNIST); they are transposed back on load.
    label_offset : int
        Subtracted from every stored label (EMNIST letters stores 1..26).
    homepage : str
        Where the set is described.
    """

    name: str
    title: str
    files: dict[str, tuple[str, str]]
    classes: tuple[str, ...]
    content_sha256: dict[str, str] = field(default_factory=dict)
    published_md5: dict[str, str] = field(default_factory=dict)
    mirrors: tuple[str, ...] = ()
    archive: tuple[str, str, str] | None = None
    folders: tuple[str, ...] = ()
    transposed: bool = False
    label_offset: int = 0
    homepage: str = ""


_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _pins(*digests: str) -> dict[str, str]:
    """File name -> digest, for the four MNIST-named files (train images first)."""
    return dict(zip((*_IDX_NAMES["train"], *_IDX_NAMES["test"]), digests, strict=True))


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


def _emnist(split: str, classes: str, md5: tuple[str, str, str, str], offset: int = 0) -> KnownSet:
    names = {
        part: (
            f"emnist-{split}-{part}-images-idx3-ubyte.gz",
            f"emnist-{split}-{part}-labels-idx1-ubyte.gz",
        )
        for part in ("train", "test")
    }
    files = (*names["train"], *names["test"])
    return KnownSet(
        name=f"emnist_{split}",
        title=f"EMNIST {split}",
        files=names,
        classes=tuple(classes),
        published_md5=dict(zip(files, md5, strict=True)),
        # NIST's archive of every EMNIST split (536 MB), as torchvision downloads it.
        archive=(
            "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",
            "58c8d27c78d21e728a6bc7b3cc06412e",
            "gzip/",
        ),
        folders=("emnist", "EMNIST", "emnist/gzip", "gzip"),
        transposed=True,
        label_offset=offset,
        homepage="https://www.nist.gov/itl/products-and-services/emnist-dataset",
    )


_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

KNOWN_SETS: dict[str, KnownSet] = {
    s.name: s
    for s in (
        KnownSet(
            name="mnist",
            title="MNIST",
            files=_IDX_NAMES,
            classes=tuple(_DIGITS),
            content_sha256=MNIST_SHA256,
            mirrors=(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ),
            folders=("mnist",),
            homepage="http://yann.lecun.com/exdb/mnist/",
        ),
        KnownSet(
            name="fashion_mnist",
            title="Fashion-MNIST",
            files=_IDX_NAMES,
            classes=(
                *("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"),
                *("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            ),
            # Content hashes measured on Debian's dataset-fashion-mnist 0.0~git20200523
            # (which re-gzips the files, so its .gz MD5s differ from Zalando's).
            content_sha256=_pins(
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
            published_md5=_pins(
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "25c81989df183df01b3e8a0aad5dffbe",
                "bef4ecab320f06d8554ea6380940ec79",
                "bb300cfdad3c16e7a12a480ee83cd310",
            ),
            mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            folders=("fashion_mnist", "fashion-mnist", "FashionMNIST"),
            homepage="https://github.com/zalandoresearch/fashion-mnist",
        ),
        KnownSet(
            name="kmnist",
            title="Kuzushiji-MNIST",
            files=_IDX_NAMES,
            classes=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
            published_md5=_pins(
                "bdb82020997e1d708af4cf47b453dcf7",
                "e144d726b3acfaa3e44228e80efcd344",
                "5c965bf0a639b31b8f53240b1b52f4d7",
                "7320c461ea6c1c855c0b718fb2a4b134",
            ),
            mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            folders=("kmnist", "KMNIST"),
            homepage="https://github.com/rois-codh/kmnist",
        ),
        _emnist(
            "balanced",
            _DIGITS + _UPPER + "abdefghnqrt",
            (
                "4041b0d6f15785d3fa35263901b5496b",
                "7a35cc7b2b7ee7671eddf028570fbd20",
                "6818d20fe2ce1880476f747bbc80b22b",
                "acd3694070dcbf620e36670519d4b32f",
            ),
        ),
        _emnist(
            "letters",
            _UPPER.lower(),
            (
                "8795078f199c478165fe18db82625747",
                "c16de4f1848ddcdddd39ab65d2a7be52",
                "382093a19703f68edac6d01b8dfdfcad",
                "d4108920cd86601ec7689a97f2de7f59",
            ),
            offset=1,
        ),
        _emnist(
            "digits",
            _DIGITS,
            (
                "d2662ecdc47895a6bbfce25de9e9a677",
                "2223fcfee618ac9c89ef20b6e48bcf9e",
                "a159b8b3bd6ab4ed4793c1cb71a2f5cc",
                "8afde66ea51d865689083ba6bb779fac",
            ),
        ),
    )
}
"""Name -> :class:`KnownSet` of every set a protocol can name."""


def known_set(name: str, where: str = "dataset") -> KnownSet:
    """The known set called `name`; one line listing the known names otherwise."""
    try:
        return KNOWN_SETS[name]
    except KeyError:
        raise NeurosimError(
            f"{where}: unknown data set {name!r} (known: {', '.join(KNOWN_SETS)}, "
            "mnist_subset, fashion_mnist_subset; "
            "or a path to an .npz file, IDX files or a folder of class folders)"
        ) from None


def cache_dir(name: str) -> Path:
    """The folder downloads of data set `name` go into (it may not exist yet).

    ``$NEUROSIM_CACHE/<name>`` if that variable is set, otherwise
    ``${XDG_CACHE_HOME:-~/.cache}/neurosim/<name>``.
    """
    cache = os.environ.get(CACHE_ENV)
    if cache:
        return user_path(cache, f"${CACHE_ENV}") / name
    # XDG says an empty value counts as unset.
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return user_path(xdg, "$XDG_CACHE_HOME") / "neurosim" / name


@dataclass(frozen=True)
class FoundFile:
    """A verified file of a known set."""

    path: str
    """Where it was read (a URL's cache file after a download)."""
    content: bytes
    """The decompressed IDX bytes."""
    sha256: str
    """SHA-256 of the file as stored (what ``sha256sum`` prints)."""


def _search_dirs(kset: KnownSet) -> list[Path]:
    dirs = []
    data = os.environ.get(DATA_ENV)
    if data:
        root = user_path(data, f"${DATA_ENV}")
        dirs += [root / f for f in kset.folders] + [root]
    dirs.append(cache_dir(kset.name))
    dirs += [base / f for base in SYSTEM_DATA_DIRS for f in kset.folders]
    return dirs


def _owner(content_sha: str, raw_md5: str, asked: KnownSet) -> KnownSet | None:
    """Another known set whose pins this file matches (None if none)."""
    for other in KNOWN_SETS.values():
        if other.name != asked.name and (
            content_sha in other.content_sha256.values() or raw_md5 in other.published_md5.values()
        ):
            return other
    return None


def _check(kset: KnownSet, name: str, raw: bytes, content: bytes, source: str, hint: str) -> None:
    """Raise unless the file matches its pin (one line, both hashes)."""
    if name in kset.content_sha256:
        expected, actual = kset.content_sha256[name], hashlib.sha256(content).hexdigest()
        if actual == expected:
            return
        kind = "decompressed SHA-256"
    else:
        expected, actual = kset.published_md5[name], hashlib.md5(raw).hexdigest()
        if actual == expected:
            return
        kind = "MD5 of the published .gz file"
        if raw[:2] != b"\x1f\x8b":
            hint = f" (the pin is of the .gz file; keep it compressed){hint}"
    raise NeurosimError(
        f"checksum mismatch for {source}: {kind} is {actual}, expected {expected}{hint}"
    )


def _other_sets_file(kset: KnownSet, raw: bytes, content: bytes) -> KnownSet | None:
    return _owner(hashlib.sha256(content).hexdigest(), hashlib.md5(raw).hexdigest(), kset)


def find_file(
    kset: KnownSet, name: str, path: str | os.PathLike[str] | None = None, *, download: bool = True
) -> FoundFile:
    """Find, verify and read one file of a known set (lookup order: module docstring).

    Parameters
    ----------
    kset : KnownSet
    name : str
        One of the set's file names.
    path : str or os.PathLike, optional
        The only directory looked in (nothing is downloaded).
    download : bool, default True
        Download into the cache when the file is found nowhere.

    Returns
    -------
    FoundFile

    Raises
    ------
    NeurosimError
        The file is missing and cannot be downloaded, or does not match its pin.
    """
    explicit = path is not None
    if explicit:
        root = user_path(path, "path")
        dirs = [root, *(root / f for f in kset.folders)]
    else:
        dirs = _search_dirs(kset)
    passed_over = []
    # a folder may hold the files gunzipped (as torchvision's "raw" folders do)
    candidates = [d / n for d in dirs for n in (name, name.removesuffix(".gz"))]
    for candidate in candidates:
        if not candidate.is_file():
            continue
        raw = _read_raw(candidate)
        content = read_maybe_gzip_bytes(raw, candidate)
        other = _other_sets_file(kset, raw, content)
        if other is not None and not explicit:
            passed_over.append(f"{candidate} is {other.title}'s")
            continue
        hint = f" ({other.title}'s file, not {kset.title}'s)" if other else "; delete or replace it"
        _check(kset, name, raw, content, str(candidate), hint)
        return FoundFile(str(candidate), content, hashlib.sha256(raw).hexdigest())
    looked = _places(kset)
    skipped = f" ({'; '.join(passed_over)})" if passed_over else ""
    if explicit:
        subs = f" or its subfolders {', '.join(kset.folders)}" if kset.folders else ""
        raise NeurosimError(
            f"{name} not found in {dirs[0]} (the path argument){subs}{skipped}; "
            f"pass path=None to use ${DATA_ENV}, the cache or a download"
        )
    if not download:
        raise NeurosimError(
            f"{name} not found (looked in {looked}){skipped} and download=False; "
            f"set {DATA_ENV} to a directory holding the {kset.title} files or pass path=..."
        )
    return _download(kset, name, f"{looked}{skipped}")


def _places(kset: KnownSet) -> str:
    """The folders the lookup searches, each root once and the set's subfolder names once."""
    subs = "/".join(kset.folders)
    parts = []
    data = os.environ.get(DATA_ENV)
    if data:
        parts.append(f"{user_path(data, f'${DATA_ENV}')} and its subfolders {subs}")
    parts.append(str(cache_dir(kset.name)))
    parts += [f"{base} (subfolders {subs})" for base in SYSTEM_DATA_DIRS]
    return ", ".join(parts)


def _read_raw(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise NeurosimError(f"cannot read {path}: {exc}") from exc


def read_maybe_gzip_bytes(raw: bytes, source: Path) -> bytes:
    """Gunzip `raw` if it is gzip data (errors name `source`)."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    import gzip
    import zlib

    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise NeurosimError(f"cannot read {source}: {exc}") from exc


def _download(kset: KnownSet, name: str, looked: str) -> FoundFile:
    cache = cache_dir(kset.name)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NeurosimError(f"cannot create {kset.title} cache directory {cache}: {exc}") from exc
    failures = []
    sources = [m + name for m in kset.mirrors] or ([kset.archive[0]] if kset.archive else [])
    for url in sources:
        _log.info("downloading %s into %s", url, cache)
        try:
            if kset.archive is not None and url == kset.archive[0]:
                _download_archive(kset, cache)
                found = cache / name
                raw = found.read_bytes()
                content = read_maybe_gzip_bytes(raw, found)
            else:
                raw = _download_one(
                    url, cache / name, lambda r, url=url: _check_download(kset, name, r, url)
                )
                content = read_maybe_gzip_bytes(raw, cache / name)
            return FoundFile(str(cache / name), content, hashlib.sha256(raw).hexdigest())
        except (OSError, HTTPException, NeurosimError, zipfile.BadZipFile) as exc:
            # one short reason per source: the line must still name where to put the files
            failures.append(f"{url}: {one_line(str(exc), 300)}")
    # What to do comes first, why and where it looked after: a line cut to fit a
    # terminal loses the details (--debug prints them), not the advice.
    raise NeurosimError(
        f"{name} not found; put the {kset.title} files in {cache}, set {DATA_ENV} to a "
        f"directory holding them, or pass path=... (download failed: "
        f"{'; '.join(failures) or 'no source known'}; looked in {looked})"
    )


def _check_download(kset: KnownSet, name: str, raw: bytes, url: str) -> None:
    content = read_maybe_gzip_bytes(raw, Path(url))
    _check(kset, name, raw, content, url, "")


def _download_one(url: str, target: Path, verify) -> bytes:
    """Download `url` to `target` atomically; `verify(raw)` raises before the rename."""
    # A temp file in the target's directory, renamed only once verified, means a
    # crash or a concurrent process never leaves a partial file under the final name.
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response,
        ):
            while chunk := response.read(_CHUNK):
                out.write(chunk)
        raw = tmp.read_bytes()
        verify(raw)
        # mkstemp creates 0600; a cache file is readable like any other download.
        tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return raw


def _download_archive(kset: KnownSet, cache: Path) -> None:
    """Download the set's zip archive (checked against its MD5) and extract the set's files.

    The archive is kept in the cache (every EMNIST split lies in it) and checked
    again before each use; only the files not yet in the cache are extracted.
    """
    url, md5, folder = kset.archive
    archive = cache / Path(url).name

    def verify(raw: bytes) -> None:
        actual = hashlib.md5(raw).hexdigest()
        if actual != md5:
            raise NeurosimError(f"checksum mismatch for {url}: MD5 is {actual}, expected {md5}")

    if archive.is_file():
        try:
            verify(_read_raw(archive))
        except NeurosimError:
            archive.unlink(missing_ok=True)  # a stale or corrupt copy: fetch it again
    if not archive.is_file():
        _download_one(url, archive, verify)
    with zipfile.ZipFile(archive) as zf:
        for split in kset.files.values():
            for member in split:
                target = cache / member
                if target.is_file():
                    continue
                fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=f".{member}.", suffix=".part")
                try:
                    try:
                        with os.fdopen(fd, "wb") as out, zf.open(folder + member) as src:
                            shutil.copyfileobj(src, out)
                    except KeyError:
                        raise NeurosimError(f"{archive} holds no {folder}{member}") from None
                    raw = Path(tmp_name).read_bytes()
                    _check(kset, member, raw, b"", f"{archive}:{folder}{member}", "")
                    Path(tmp_name).chmod(0o644)
                    os.replace(tmp_name, target)
                finally:
                    Path(tmp_name).unlink(missing_ok=True)
