"""MNIST data layer: IDX parsing, checksums, lookup order, download, shipped subset."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from neurosim.datasets import (
    MIRRORS,
    MnistData,
    as_rates,
    load_mnist,
    load_mnist_subset,
    mnist,
    mnist_cache_dir,
    read_idx,
    subset_sha256,
)
from neurosim.errors import NeurosimError

REPO = Path(__file__).resolve().parents[1]
FULL_MNIST = REPO.parent / "shared" / "data" / "mnist"
# Class counts of the original files (see shared/data/mnist/PROVENANCE.txt).
FULL_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
IDX_CODES = {np.dtype("u1"): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f8"): 0x0E}
TEST_FILES = mnist.SPLITS["test"]


def idx_bytes(array: np.ndarray, dtype: str = "u1", magic: int | None = None) -> bytes:
    dtype = np.dtype(dtype)
    if magic is None:
        magic = IDX_CODES[dtype] << 8 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + np.asarray(array, dtype=dtype).tobytes()


def write_fake_mnist(directory: Path, seed: int, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Write a tiny test split into `directory`; return (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in zip(TEST_FILES, (images, labels), strict=True):
        (directory / name).write_bytes(gzip.compress(idx_bytes(array)))
    return images, labels


def pin(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Pin the test split's hashes to the fake files in `directory`."""
    for name in TEST_FILES:
        digest = hashlib.sha256(gzip.decompress((directory / name).read_bytes())).hexdigest()
        monkeypatch.setitem(mnist.MNIST_SHA256, name, digest)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user environment, no ~/.cache, and no network in any test."""
    for var in ("NEUROSIM_DATA", "NEUROSIM_CACHE", "NEUROSIM_SUBSET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def no_network(url, *args, **kwargs):
        pytest.fail(f"unit test tried to open {url}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


# --- IDX parsing ----------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize(
    ("dtype", "shape"), [("u1", (3, 28, 28)), ("u1", (7,)), (">i4", (2, 5)), (">f8", (4, 1, 3))]
)
def test_read_idx_round_trip(tmp_path, compress, dtype, shape):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, size=shape).astype(np.dtype(dtype).newbyteorder("="))
    data = idx_bytes(array, dtype)
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(data) if compress else data)

    out = read_idx(path)

    assert out.shape == shape
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_checks_magic(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(idx_bytes(np.arange(4, dtype=np.uint8)))
    assert read_idx(path, magic=2049).tolist() == [0, 1, 2, 3]
    with pytest.raises(
        NeurosimError, match=r"labels\.idx: bad IDX magic number 2049, expected 2051"
    ):
        read_idx(path, magic=2051)


@pytest.mark.parametrize(
    "data",
    [
        b"\x12\x34\x08\x01\x00\x00\x00\x01\x00",  # nonzero leading bytes
        b"\x00\x00\x07\x01\x00\x00\x00\x01\x00",  # unknown type code
        b"\x00\x00\x08\x01\x00\x00\x00\x03\x00",  # header says 3 items, data has 1
        b"\x00\x00\x08\x02\x00\x00\x00\x01",  # truncated dimensions
        b"\x00\x00",
    ],
)
def test_read_idx_rejects_malformed(tmp_path, data):
    path = tmp_path / "bad.idx"
    path.write_bytes(data)
    with pytest.raises(NeurosimError, match=r"bad\.idx"):
        read_idx(path)


def test_read_idx_rejects_broken_gzip(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100, np.uint8)))[:-20])
    with pytest.raises(NeurosimError, match=r"cannot read .*broken\.gz"):
        read_idx(path)


# --- load_mnist: errors, checksums, lookup order ------------------------------------


def test_unknown_split():
    with pytest.raises(NeurosimError, match="unknown MNIST split 'validation'"):
        load_mnist("validation")


def test_checksum_mismatch_names_file_and_both_hashes(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path / "d", seed=1)
    pin(monkeypatch, tmp_path / "d")
    monkeypatch.setitem(mnist.MNIST_SHA256, TEST_FILES[0], "ab" * 32)
    actual = hashlib.sha256(gzip.decompress((tmp_path / "d" / TEST_FILES[0]).read_bytes()))

    with pytest.raises(NeurosimError) as info:
        load_mnist("test", tmp_path / "d")

    message = str(info.value)
    assert str(tmp_path / "d" / TEST_FILES[0]) in message
    assert "ab" * 32 in message
    assert actual.hexdigest() in message
    assert "\n" not in message


def test_wrong_magic_in_mnist_file_is_reported(tmp_path, monkeypatch):
    directory = tmp_path / "d"
    write_fake_mnist(directory, seed=1)
    # Labels stored under the images name: the right hash, the wrong kind of file.
    labels = gzip.decompress((directory / TEST_FILES[1]).read_bytes())
    (directory / TEST_FILES[0]).write_bytes(gzip.compress(labels))
    pin(monkeypatch, directory)
    message = f"{directory / TEST_FILES[0]}: bad IDX magic number 2049, expected 2051"
    with pytest.raises(NeurosimError, match=re.escape(message)):
        load_mnist("test", directory)


def test_lookup_order_path_then_env_then_cache(tmp_path, monkeypatch):
    explicit, env, cache = tmp_path / "explicit", tmp_path / "env", tmp_path / "cache" / "mnist"
    root = tmp_path / "root"
    expected = {d: write_fake_mnist(d, seed=i) for i, d in enumerate((explicit, env, cache))}
    expected[root / "mnist"] = write_fake_mnist(root / "mnist", seed=3)
    monkeypatch.setenv("NEUROSIM_DATA", str(env))
    monkeypatch.setenv("NEUROSIM_CACHE", str(cache.parent))

    # Only the winner's hashes are pinned, so reading any other directory fails loudly.
    def check(winner: Path, **kwargs) -> None:
        pin(monkeypatch, winner)
        images, labels = load_mnist("test", download=False, **kwargs)
        np.testing.assert_array_equal(images, expected[winner][0])
        np.testing.assert_array_equal(labels, expected[winner][1])

    check(explicit, path=explicit)
    check(env)
    monkeypatch.setenv("NEUROSIM_DATA", str(root))  # a data root with an mnist/ subfolder
    check(root / "mnist")
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "empty"))  # falls through to the cache
    check(cache)


def test_explicit_path_is_not_a_fallback(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path / "env", seed=0)
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "env"))
    (tmp_path / "explicit").mkdir()
    with pytest.raises(NeurosimError, match=r"not found in .*explicit \(the path argument\)"):
        load_mnist("test", tmp_path / "explicit")


def test_cache_dir_from_env(tmp_path, monkeypatch):
    assert mnist_cache_dir() == tmp_path / "xdg" / "neurosim" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert mnist_cache_dir() == Path("~/.cache/neurosim/mnist").expanduser()
    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path / "c"))
    assert mnist_cache_dir() == tmp_path / "c" / "mnist"


def test_missing_files_without_download_names_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(NeurosimError) as info:
        load_mnist("train", download=False)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz not found" in message
    assert "NEUROSIM_DATA" in message
    assert str(tmp_path / "nowhere") in message
    assert str(mnist_cache_dir()) in message


def test_network_failure_says_where_it_looked_and_what_to_set(monkeypatch):
    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(NeurosimError) as info:
        load_mnist("test")
    message = str(info.value)
    assert "\n" not in message
    assert str(mnist_cache_dir()) in message
    assert "NEUROSIM_DATA" in message
    assert "path=" in message
    for mirror in MIRRORS:
        assert mirror + TEST_FILES[0] in message
    assert not list(mnist_cache_dir().iterdir())  # no partial downloads left behind


# --- download -------------------------------------------------------------------------


class FakeResponse(io.BytesIO):
    """Serves a file's bytes, checking on each read that nothing is at the final name."""

    def __init__(self, data: bytes, target: Path):
        super().__init__(data)
        self.target = target

    def read(self, size: int = -1) -> bytes:
        assert not self.target.exists(), "final file written before the download finished"
        assert list(self.target.parent.glob(f".{self.target.name}.*.part"))
        return super().read(size)


def serve(monkeypatch, files: dict[str, bytes]) -> list[str]:
    """Serve `files` (url -> bytes) instead of the network; return the urls opened."""
    opened = []

    def fake_urlopen(url, timeout=None):
        opened.append(url)
        if url not in files:
            raise urllib.error.HTTPError(url, 404, "Not Found", None, None)
        return FakeResponse(files[url], mnist_cache_dir() / url.rsplit("/", 1)[1])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return opened


def test_download_is_verified_and_atomic(tmp_path, monkeypatch):
    images, labels = write_fake_mnist(tmp_path / "src", seed=3)
    pin(monkeypatch, tmp_path / "src")
    # A different gzip wrapper (header mtime) from the mirror: same IDX content.
    served = {
        MIRRORS[0] + name: gzip.compress(
            gzip.decompress((tmp_path / "src" / name).read_bytes()), mtime=12345
        )
        for name in TEST_FILES
    }
    opened = serve(monkeypatch, served)

    out_images, out_labels = load_mnist("test")

    np.testing.assert_array_equal(out_images, images)
    np.testing.assert_array_equal(out_labels, labels)
    assert opened == [MIRRORS[0] + name for name in TEST_FILES]
    cache = mnist_cache_dir()
    assert sorted(p.name for p in cache.iterdir()) == sorted(TEST_FILES)
    for name in TEST_FILES:
        assert (cache / name).read_bytes() == served[MIRRORS[0] + name]
    # Second call is served from the cache.
    load_mnist("test")
    assert len(opened) == len(TEST_FILES)


def test_download_with_bad_checksum_is_discarded(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path / "good", seed=4)
    write_fake_mnist(tmp_path / "bad", seed=5)
    pin(monkeypatch, tmp_path / "good")
    name = TEST_FILES[0]
    serve(
        monkeypatch, {mirror + name: (tmp_path / "bad" / name).read_bytes() for mirror in MIRRORS}
    )

    with pytest.raises(NeurosimError, match=re.escape(f"checksum mismatch for {MIRRORS[1]}{name}")):
        load_mnist("test")
    assert not list(mnist_cache_dir().iterdir())

    # The first mirror serving a bad file does not stop the second one from working.
    serve(
        monkeypatch,
        {
            MIRRORS[0] + name: (tmp_path / "bad" / name).read_bytes(),
            MIRRORS[1] + name: (tmp_path / "good" / name).read_bytes(),
            MIRRORS[0] + TEST_FILES[1]: (tmp_path / "good" / TEST_FILES[1]).read_bytes(),
        },
    )
    load_mnist("test")
    assert (mnist_cache_dir() / name).read_bytes() == (tmp_path / "good" / name).read_bytes()


# --- as_rates -------------------------------------------------------------------------


def test_as_rates():
    pixels = np.array([[0, 51, 255]], dtype=np.uint8)
    rates = as_rates(pixels)
    assert rates.dtype == np.float64
    np.testing.assert_allclose(rates, [[0.0, 0.2, 1.0]], rtol=0, atol=1e-15)
    assert as_rates(pixels, np.float32).dtype == np.float32
    with pytest.raises(NeurosimError, match="already scaled"):
        as_rates(rates)
    with pytest.raises(NeurosimError, match=r"range 0\.\.256"):
        as_rates(np.array([0, 256]))


# --- shipped subset -------------------------------------------------------------------


@pytest.fixture(scope="module")
def subset() -> MnistData:
    return load_mnist_subset(REPO / "data" / "mnist-subset.npz")


def test_subset_default_path_and_shapes(subset):
    data = load_mnist_subset()
    assert subset_sha256(data) == mnist.SUBSET_SHA256
    assert data.train_images.shape == (5000, 28, 28)
    assert data.test_images.shape == (1000, 28, 28)
    assert data.train_images.dtype == data.train_labels.dtype == np.uint8
    assert data.train_indices.dtype == data.test_indices.dtype == np.int32
    assert (REPO / "data" / "mnist-subset.npz").stat().st_size < 2_000_000


@pytest.mark.parametrize("split", ["train", "test"])
def test_subset_is_stratified_with_valid_indices(subset, split):
    labels, indices = getattr(subset, f"{split}_labels"), getattr(subset, f"{split}_indices")
    full = np.array(FULL_COUNTS[split])
    proportional = len(labels) * full / full.sum()
    counts = np.bincount(labels, minlength=10)
    assert np.all(np.abs(counts - proportional) < 1), (counts, proportional)
    assert np.all(np.diff(indices) > 0)  # sorted and unique
    assert 0 <= indices[0] and indices[-1] < full.sum()


@pytest.mark.skipif(not FULL_MNIST.is_dir(), reason=f"full MNIST set not at {FULL_MNIST}")
@pytest.mark.parametrize("split", ["train", "test"])
def test_subset_indices_point_at_the_full_set(subset, split):
    images, labels = load_mnist(split, FULL_MNIST, download=False)
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), FULL_COUNTS[split])
    idx = getattr(subset, f"{split}_indices")
    np.testing.assert_array_equal(images[idx], getattr(subset, f"{split}_images"))
    np.testing.assert_array_equal(labels[idx], getattr(subset, f"{split}_labels"))


def test_subset_env_var_and_missing_file(tmp_path, monkeypatch, subset):
    copy = tmp_path / "copy.npz"
    shutil.copy(REPO / "data" / "mnist-subset.npz", copy)
    monkeypatch.setenv("NEUROSIM_SUBSET", str(copy))
    assert subset_sha256(load_mnist_subset()) == mnist.SUBSET_SHA256
    monkeypatch.setenv("NEUROSIM_SUBSET", str(tmp_path / "gone.npz"))
    with pytest.raises(NeurosimError, match=r"gone\.npz not found; set NEUROSIM_SUBSET"):
        load_mnist_subset()


def test_subset_with_changed_arrays_fails_checksum(tmp_path, subset):
    changed = subset._replace(train_labels=(subset.train_labels + 1) % 10)
    path = tmp_path / "changed.npz"
    np.savez_compressed(path, **changed._asdict())
    with pytest.raises(NeurosimError, match=r"checksum mismatch for MNIST subset .*changed\.npz"):
        load_mnist_subset(path)
    assert load_mnist_subset(path, expected_sha256=None).train_labels[0] == changed.train_labels[0]


def test_subset_with_corrupted_bytes_is_reported(tmp_path):
    raw = bytearray((REPO / "data" / "mnist-subset.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(NeurosimError, match=r"corrupt\.npz"):
        load_mnist_subset(path)


def test_subset_with_wrong_arrays_is_reported(tmp_path, subset):
    path = tmp_path / "partial.npz"
    np.savez_compressed(path, train_images=subset.train_images)
    with pytest.raises(NeurosimError, match=r"partial\.npz lacks arrays test_images"):
        load_mnist_subset(path)
    wrong = subset._replace(test_indices=subset.test_indices.astype(np.int64))
    np.savez_compressed(path, **wrong._asdict())
    with pytest.raises(NeurosimError, match=r"test_indices is int64 \(1000,\), expected int32"):
        load_mnist_subset(path, expected_sha256=None)
