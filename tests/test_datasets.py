"""Any labelled data set: known sets and their pins, user .npz / IDX / class folders, provenance."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fake_data import IDX, bars_npz, pin_content, pin_md5, write_idx_set
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neurosim.datasets import KNOWN_SETS, data_spec, load_dataset
from neurosim.datasets import known as known_module
from neurosim.errors import NeurosimError
from neurosim.networks.segregated import _check_same_data


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No user environment, no system data folders, no network."""
    for var in ("NEUROSIM_DATA", "NEUROSIM_CACHE", "NEUROSIM_SUBSET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(known_module, "SYSTEM_DATA_DIRS", [tmp_path / "system"])

    def no_network(url, *args, **kwargs):
        raise OSError(f"no network in tests ({url})")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


# --- known sets -------------------------------------------------------------------------


def test_known_set_found_under_its_folder_name_and_recorded(tmp_path, monkeypatch):
    root = tmp_path / "data"
    written = write_idx_set(root / "fashion-mnist", seed=1)
    pin_content(monkeypatch, "fashion_mnist", root / "fashion-mnist")
    monkeypatch.setenv("NEUROSIM_DATA", str(root))

    data = load_dataset("fashion_mnist")

    np.testing.assert_array_equal(data.train_images, written["train"][0])
    np.testing.assert_array_equal(data.test_labels, written["test"][1])
    assert data.n_classes == 10 and data.classes[0] == "T-shirt/top"
    assert data.image_shape == (28, 28) and data.n_inputs == 784
    prov = data.provenance(n_train=5, n_test=7, seed=3, shuffle=True)
    files = json.loads(prov["data_files"])
    assert [f["role"] for f in files] == [
        "train_images",
        "train_labels",
        "test_images",
        "test_labels",
    ]
    for f in files:
        # the SHA-256 a user gets from sha256sum of the file as it lies on disk
        assert f["sha256"] == hashlib.sha256(Path(f["path"]).read_bytes()).hexdigest()
        assert Path(f["path"]).parent == root / "fashion-mnist"
    assert prov["data_name"] == "fashion_mnist" and prov["data_train_examples"] == 5
    assert prov["data_test_examples"] == 7 and prov["data_order_seed"] == 3


def test_wrong_checksum_of_a_known_set_is_one_line_with_both_hashes(tmp_path, monkeypatch):
    folder = tmp_path / "fashion"
    write_idx_set(folder, seed=1)
    pin_content(monkeypatch, "fashion_mnist", folder)
    name = IDX["train"][0]
    monkeypatch.setitem(KNOWN_SETS["fashion_mnist"].content_sha256, name, "cd" * 32)
    actual = hashlib.sha256(gzip.decompress((folder / name).read_bytes())).hexdigest()

    with pytest.raises(NeurosimError) as info:
        load_dataset({"name": "fashion_mnist", "path": str(folder)})

    message = str(info.value)
    assert str(folder / name) in message and "cd" * 32 in message and actual in message
    assert "\n" not in message


def test_another_sets_files_in_a_shared_folder_are_passed_over(tmp_path, monkeypatch):
    # NEUROSIM_DATA points at MNIST; Fashion-MNIST is asked for and lies in the cache.
    mnist_dir, cache = tmp_path / "mnist", tmp_path / "cache"
    write_idx_set(mnist_dir, seed=1)
    pin_content(monkeypatch, "mnist", mnist_dir)
    fashion = write_idx_set(cache / "fashion_mnist", seed=2)
    pin_content(monkeypatch, "fashion_mnist", cache / "fashion_mnist")
    monkeypatch.setenv("NEUROSIM_DATA", str(mnist_dir))
    monkeypatch.setenv("NEUROSIM_CACHE", str(cache))

    data = load_dataset("fashion_mnist")
    np.testing.assert_array_equal(data.train_images, fashion["train"][0])

    # Without the cache copy the message says what the shared folder holds.
    for f in (cache / "fashion_mnist").iterdir():
        f.unlink()
    with pytest.raises(NeurosimError, match=r"download failed.*is MNIST's"):
        load_dataset("fashion_mnist")


def test_md5_pinned_set_checks_the_published_gz(tmp_path, monkeypatch):
    folder = tmp_path / "kmnist"
    write_idx_set(folder, seed=4)
    pin_md5(monkeypatch, "kmnist", folder)
    data = load_dataset({"name": "kmnist", "path": str(folder)})
    assert data.classes[1] == "ki"

    # The same content uncompressed cannot be checked against the .gz's MD5.
    name = IDX["test"][1]
    (folder / name).write_bytes(gzip.decompress((folder / name).read_bytes()))
    with pytest.raises(NeurosimError, match=r"MD5 of the published \.gz file.*keep it compressed"):
        load_dataset({"name": "kmnist", "path": str(folder)})


def test_content_pinned_set_is_found_gunzipped(tmp_path, monkeypatch):
    """A folder of gunzipped IDX files (torchvision's raw/) is found and checked by content."""
    folder = tmp_path / "fashion"
    written = write_idx_set(folder, seed=9)
    pin_content(monkeypatch, "fashion_mnist", folder)
    for f in folder.iterdir():
        f.with_suffix("").write_bytes(gzip.decompress(f.read_bytes()))
        f.unlink()
    data = load_dataset({"name": "fashion_mnist", "path": str(folder)})
    np.testing.assert_array_equal(data.test_images, written["test"][0])
    assert data.files[0].path == str(folder / "train-images-idx3-ubyte")


def test_download_failure_is_one_line_that_still_says_where_to_put_the_files(tmp_path, monkeypatch):
    from neurosim.errors import ERROR_LINE_LIMIT

    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / ("d" * 150)))
    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path / "cache"))
    with pytest.raises(NeurosimError) as info:
        load_dataset("fashion_mnist")
    message = str(info.value)
    assert "\n" not in message
    # the part the CLI prints (one line, cut to its limit) says why and where to put the files
    shown = message[:ERROR_LINE_LIMIT]
    assert f"put the Fashion-MNIST files in {tmp_path / 'cache' / 'fashion_mnist'}," in shown
    assert "download failed" in shown
    # and the folders looked in, in full, for the --debug reader
    assert str(tmp_path / ("d" * 150)) in message and str(tmp_path / "system") in message
    assert "no network in tests" in message


def test_emnist_is_transposed_back_and_letters_count_from_zero(tmp_path, monkeypatch):
    kset = KNOWN_SETS["emnist_letters"]
    folder = tmp_path / "emnist"
    written = write_idx_set(folder, seed=5, names=kset.files, n_classes=26, offset=1)
    pin_md5(monkeypatch, "emnist_letters", folder)

    data = load_dataset({"name": "emnist_letters", "path": str(folder)})

    np.testing.assert_array_equal(data.train_images, written["train"][0].transpose(0, 2, 1))
    np.testing.assert_array_equal(data.train_labels, written["train"][1].astype(int) - 1)
    assert data.n_classes == 26 and data.classes[0] == "a"


def test_emnist_archive_download_is_verified_then_extracted(tmp_path, monkeypatch):
    kset = KNOWN_SETS["emnist_digits"]
    src = tmp_path / "src"
    write_idx_set(src, seed=6, names=kset.files)
    pin_md5(monkeypatch, "emnist_digits", src)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for split in kset.files.values():
            for name in split:
                zf.writestr(f"gzip/{name}", (src / name).read_bytes())
    archive = buffer.getvalue()
    url = kset.archive[0]
    opened = []

    def fake_urlopen(requested, timeout=None):
        opened.append(requested)
        return io.BytesIO(archive)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    cache = tmp_path / "cache"
    monkeypatch.setenv("NEUROSIM_CACHE", str(cache))
    # KnownSet is frozen: swap in a copy whose archive pin is this zip's MD5
    good = dataclasses.replace(kset, archive=(url, hashlib.md5(archive).hexdigest(), "gzip/"))
    monkeypatch.setitem(KNOWN_SETS, "emnist_digits", good)

    data = load_dataset("emnist_digits")
    assert opened == [url]  # one archive for all four files
    assert data.n_classes == 10 and len(data.train_labels) == 12
    assert sorted(p.name for p in (cache / "emnist_digits").iterdir()) == sorted(
        ["gzip.zip", *kset.files["train"], *kset.files["test"]]
    )

    # A file lost from the cache is extracted again from the kept archive, not downloaded.
    (cache / "emnist_digits" / kset.files["test"][1]).unlink()
    load_dataset("emnist_digits")
    assert opened == [url]

    # An archive without the set's files is one line naming the missing member.
    holed = io.BytesIO()
    with zipfile.ZipFile(holed, "w") as zf:
        zf.writestr("gzip/README", b"nothing here")
    archive = holed.getvalue()
    short = dataclasses.replace(kset, archive=(url, hashlib.md5(archive).hexdigest(), "gzip/"))
    monkeypatch.setitem(KNOWN_SETS, "emnist_digits", short)
    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path / "cache3"))
    with pytest.raises(NeurosimError, match=r"gzip\.zip holds no gzip/emnist-digits-train-images"):
        load_dataset("emnist_digits")

    # An archive that does not match its MD5 is refused and not kept.
    bad = dataclasses.replace(kset, archive=(url, "0" * 32, "gzip/"))
    monkeypatch.setitem(KNOWN_SETS, "emnist_digits", bad)
    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path / "cache2"))
    with pytest.raises(NeurosimError, match=r"checksum mismatch for https://.*gzip\.zip: MD5"):
        load_dataset("emnist_digits")
    assert not (tmp_path / "cache2" / "emnist_digits" / "gzip.zip").exists()


# --- user data ---------------------------------------------------------------------------


def test_user_npz_sets_image_size_and_classes(tmp_path):
    path = bars_npz(tmp_path / "bars.npz")
    data = load_dataset(str(path))
    assert data.name == "bars" and data.spec.format == "npz"
    assert data.image_shape == (20, 20) and data.n_classes == 3
    assert data.classes == ("top", "middle", "bottom")
    assert data.intensities("train").max() == pytest.approx(220 / 255)
    prov = data.provenance()
    assert (
        json.loads(prov["data_files"])[0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    )
    assert json.loads(prov["data_image_shape"]) == [20, 20]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"y_test": None}, r"lacks array\(s\) y_test"),
        (
            {"y_train": np.arange(30) % 3 * 2, "classes": None},
            r"class\(es\) 1, 3 have no training examples",
        ),
        ({"x_train": np.zeros((30, 20, 20, 3), np.uint8)}, r"x_train: images have to be"),
        ({"x_train": np.full((30, 20, 20), 1.5)}, r"float pixels have to lie in \[0, 1\]"),
        ({"y_train": np.arange(29) % 3}, r"y_train: 29 labels for 30 images"),
        ({"y_train": np.arange(30) % 3 - 1}, r"labels have to be class indices"),
        ({"x_test": np.zeros((12, 10, 10), np.uint8)}, r"x_test: images are \(10, 10\)"),
        ({"classes": np.array(["a", "b"])}, r"classes has to be 3 strings"),
        ({"y_train": np.linspace(0, 2, 30)}, r"labels have to be integer class indices"),
    ],
)
def test_bad_npz_is_one_line_naming_the_file(tmp_path, override, message):
    path = bars_npz(tmp_path / "bad.npz", **override)
    with pytest.raises(NeurosimError, match=message) as info:
        load_dataset({"path": str(path)})
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_idx_folder_and_idx_files_one_by_one(tmp_path):
    written = write_idx_set(tmp_path / "mine", seed=7, n_classes=4, gz=False)
    # uncompressed files under MNIST's names without .gz
    for f in (tmp_path / "mine").iterdir():
        f.rename(f.with_suffix(""))
    data = load_dataset(str(tmp_path / "mine"))
    assert data.spec.format == "idx" and data.n_classes == 4
    np.testing.assert_array_equal(data.test_images, written["test"][0])

    files = {
        role: str(tmp_path / "mine" / name.removesuffix(".gz"))
        for role, name in zip(
            ("train_images", "train_labels", "test_images", "test_labels"),
            (*IDX["train"], *IDX["test"]),
            strict=True,
        )
    }
    same = load_dataset({"name": "mine", **files})
    np.testing.assert_array_equal(same.train_labels, data.train_labels)
    with pytest.raises(NeurosimError, match="give all four IDX files"):
        data_spec({"train_images": files["train_images"]})


def test_folder_of_class_folders(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(8)
    for split, n in (("train", 4), ("test", 2)):
        for name in ("cat", "dog"):
            folder = tmp_path / "pets" / split / name
            folder.mkdir(parents=True)
            for k in range(n):
                pixels = rng.integers(0, 256, size=(6, 5), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{k}.png")
    data = load_dataset(str(tmp_path / "pets"))
    assert data.spec.format == "folder" and data.classes == ("cat", "dog")
    assert data.image_shape == (6, 5) and len(data.train_labels) == 8
    np.testing.assert_array_equal(np.bincount(data.test_labels), [2, 2])
    # the folder's digest changes with any image
    before = data.files[0].sha256
    Image.fromarray(np.zeros((6, 5), np.uint8)).save(tmp_path / "pets" / "test" / "dog" / "0.png")
    assert load_dataset(str(tmp_path / "pets")).files[0].sha256 != before


def test_16_bit_images_are_scaled_not_clipped(tmp_path):
    from PIL import Image

    for split in ("train", "test"):
        for k, name in enumerate(("dark", "bright")):
            folder = tmp_path / "grey" / split / name
            folder.mkdir(parents=True)
            Image.fromarray(np.full((4, 4), 1000 + 60000 * k, np.uint16)).save(folder / "a.png")
            Image.fromarray(np.full((4, 4), 40 + 200 * k, np.uint8)).save(folder / "b.png")
    data = load_dataset(str(tmp_path / "grey"))
    values = data.intensities("train")[:, 0, 0]
    # classes in name order (bright, dark); 16-bit values over 65535, 8-bit ones over 255
    np.testing.assert_allclose(values, [61000 / 65535, 240 / 255, 1000 / 65535, 40 / 255])


def test_image_pixels_from_headers(tmp_path):
    from neurosim.datasets import image_pixels

    assert image_pixels(data_spec("fashion_mnist")) == 784
    assert image_pixels(data_spec(str(bars_npz(tmp_path / "bars.npz")))) == 400
    write_idx_set(tmp_path / "idx", seed=3)
    assert image_pixels(data_spec(str(tmp_path / "idx"))) == 784
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    assert image_pixels(data_spec(str(broken))) is None  # its error comes when it is loaded


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "~nosuchuser-neurosim/x.npz",
            r"cannot expand '~nosuchuser-neurosim/x.npz' \(no such user",
        ),
        ("/" + "a" * 300 + "/x.npz", r"cannot look up '/aaa.*': File name too long"),
        ({"name": "mnist", "path": "~nosuchuser-neurosim"}, r"dataset\.path: cannot expand"),
        ({"train_images": "a\0b"}, r"dataset\.train_images: a path cannot hold a NUL byte"),
    ],
)
def test_hostile_paths_are_one_line(value, message):
    if isinstance(value, dict) and "train_images" in value:
        value = dict(value, train_labels="x", test_images="x", test_labels="x")
    with pytest.raises(NeurosimError, match=message) as info:
        data_spec(value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("cifar10", r"unknown data set 'cifar10' \(known: mnist, fashion_mnist"),
        ({"name": "mnist", "colour": 1}, r"unknown key 'colour'"),
        ({"path": "/nonexistent/x.npz"}, r"no such file or folder /nonexistent/x.npz"),
        ({"name": "mnist", "format": "npz"}, r"a known set \(mnist\) has its own format"),
        (7, r"dataset: .*a known set's name, a path or a mapping"),
    ],
)
def test_bad_dataset_spec(value, message):
    with pytest.raises(NeurosimError, match=message):
        data_spec(value)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n_train=st.integers(0, 6),
    shape=st.sampled_from([(4, 4), (16,), (3, 4, 4), (2, 2, 2, 2), ()]),
    dtype=st.sampled_from(["u1", "i8", "f4", "f8", "U1", "?"]),
    labels=st.lists(st.integers(-3, 5), min_size=0, max_size=6),
)
@example(n_train=0, shape=(4, 4), dtype="u1", labels=[])
@example(n_train=3, shape=(4, 4), dtype="f8", labels=[0, 0, 0])
def test_hostile_npz_gives_data_or_one_line(tmp_path, n_train, shape, dtype, labels):
    rng = np.random.default_rng(0)
    x = (rng.random((n_train, *shape)) * 300).astype(dtype)
    path = tmp_path / "hostile.npz"
    np.savez(path, x_train=x, y_train=np.asarray(labels), x_test=x, y_test=np.asarray(labels))
    try:
        data = load_dataset(str(path))
    except NeurosimError as exc:
        assert "\n" not in str(exc)
    else:
        assert data.n_classes >= 2
        assert set(np.unique(data.train_labels)) == set(range(data.n_classes))
        assert 0 <= data.intensities("train").min() <= data.intensities("train").max() <= 1


def test_resume_on_other_data_is_refused(tmp_path):
    saved = {
        "data_files": json.dumps([{"role": "npz", "path": "/a/x.npz", "sha256": "1" * 64}]),
        "data_train_examples": 10,
        "data_test_examples": 5,
        "data_order_seed": 0,
    }
    moved = dict(saved, data_files=saved["data_files"].replace("/a/", "/b/"))
    _check_same_data(tmp_path / "c.npz", saved, moved)  # same bytes elsewhere: fine
    other = dict(saved, data_files=saved["data_files"].replace("1" * 64, "2" * 64))
    with pytest.raises(NeurosimError, match="made on other data"):
        _check_same_data(tmp_path / "c.npz", saved, other)
    with pytest.raises(NeurosimError, match="data_train_examples 10 there, 20 now"):
        _check_same_data(tmp_path / "c.npz", saved, dict(saved, data_train_examples=20))
    with pytest.raises(NeurosimError, match="data_shuffle 1 there, 0 now"):
        _check_same_data(
            tmp_path / "c.npz", dict(saved, data_shuffle=1), dict(saved, data_shuffle=0)
        )


def test_resume_compares_a_known_sets_content_not_its_gzip(tmp_path):
    """The same IDX content gzipped by another mirror resumes; other content is refused."""

    def prov(raw: str, content: str) -> dict:
        entry = {"role": "train_images", "path": "/x.gz", "sha256": raw, "content_sha256": content}
        return {"data_files": json.dumps([entry]), "data_train_examples": 10}

    _check_same_data(tmp_path / "c.npz", prov("1" * 64, "a" * 64), prov("2" * 64, "a" * 64))
    with pytest.raises(
        NeurosimError, match=f"train_images {'a' * 64} there, train_images {'b' * 64} now"
    ):
        _check_same_data(tmp_path / "c.npz", prov("1" * 64, "a" * 64), prov("1" * 64, "b" * 64))


def test_shipped_fashion_subset_matches_its_pin():
    data = load_dataset("fashion_mnist_subset")
    assert data.classes == KNOWN_SETS["fashion_mnist"].classes
    assert len(data.train_labels) == 5000 and len(data.test_labels) == 1000
    np.testing.assert_array_equal(np.bincount(data.test_labels), [100] * 10)
    # every example points at its place in the full set, in order
    assert np.all(np.diff(data.train_indices) > 0) and data.test_indices.max() < 10_000
