import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from neurosim.atomic import remove_stale
from neurosim.errors import NeurosimError
from neurosim.recording import atomic_path, load_recording, provenance, save_recording


def sample_dataset():
    rng = np.random.default_rng(3)
    t = np.arange(50) * 1e-4
    ds = xr.Dataset(
        {
            "cell_v_s": (
                ("cell_time", "cell_neuron"),
                rng.normal(-0.07, 0.01, (50, 3)),
                {"units": "volt", "population": "cell", "variable": "v_s", "compartment": "soma"},
            ),
            "cell_spike_time": (
                ("cell_spike",),
                np.sort(rng.uniform(0, 0.005, 7)),
                {"units": "second"},
            ),
            "cell_spike_neuron": (("cell_spike",), rng.integers(0, 3, 7), {"units": "1"}),
        },
        coords={"cell_time": ("cell_time", t, {"units": "second"}), "cell_neuron": np.arange(3)},
    )
    ds.attrs = provenance(protocol="name: x\nseed: 4\n", seed=4, start_time="2026-01-01T00:00:00")
    return ds


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_round_trip_is_exact(tmp_path, suffix):
    ds = sample_dataset()
    path = save_recording(ds, tmp_path / f"rec{suffix}")
    back = load_recording(path)
    xr.testing.assert_identical(back, ds)  # values, dims, coords and attributes
    for name in ds.variables:
        assert back[name].dtype == ds[name].dtype
        np.testing.assert_array_equal(back[name].values, ds[name].values)
        assert back[name].attrs == ds[name].attrs
    assert back.attrs["seed"] == 4
    for key in ("neurosim_version", "brian2_version", "numpy_version", "torch_version", "host"):
        assert back.attrs[key]
    # overwriting keeps exactly one copy and no temporaries
    save_recording(ds.assign(cell_v_s=ds.cell_v_s * 2), path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    np.testing.assert_array_equal(load_recording(path).cell_v_s.values, ds.cell_v_s.values * 2)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_interrupted_write_leaves_old_file_intact(tmp_path, suffix, monkeypatch):
    ds = sample_dataset()
    path = save_recording(ds, tmp_path / f"rec{suffix}")
    method = "to_netcdf" if suffix == ".nc" else "to_zarr"
    original = getattr(xr.Dataset, method)

    def crash(self, target, *args, **kwargs):
        original(self.isel(cell_time=slice(0, 5)), target, *args, **kwargs)  # a partial file
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, method, crash)
    with pytest.raises(KeyboardInterrupt):
        save_recording(ds.assign(cell_v_s=ds.cell_v_s + 1), path)
    monkeypatch.undo()
    xr.testing.assert_identical(load_recording(path), ds)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_atomic_path_never_creates_target_on_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(NeurosimError, match=r"unknown recording format '\.csv'"):
        save_recording(sample_dataset(), tmp_path / "x.csv")
    with pytest.raises(NeurosimError, match="recording not found"):
        load_recording(tmp_path / "missing.nc")


def test_failed_write_removes_the_folders_it_created(tmp_path):
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "data.txt").write_text("x")
    target = tmp_path / "keep" / "new" / "deeper" / "out.nc"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    # the folders made for the target are gone; the one that held a file stays
    assert sorted(p.name for p in (tmp_path / "keep").iterdir()) == ["data.txt"]


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".rec.nc.{int(dead.stdout)}-abcd1234.tmp"
    live = tmp_path / f".rec.nc.{os.getpid()}-efgh5678.tmp"
    other = tmp_path / f".other.nc.{int(dead.stdout)}-ijkl9012.tmp"
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "rec.nc").write_text("partial")
    save_recording(sample_dataset(), tmp_path / "rec.nc")
    # a write cleans its own target's stale temporaries only, never a live writer's
    assert not stale.exists() and live.exists() and other.exists()
    assert remove_stale(tmp_path) == [other]
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "rec.nc"]


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_corrupt_recordings_are_one_line(tmp_path, suffix):
    good = save_recording(sample_dataset(), tmp_path / f"good{suffix}")
    bad = tmp_path / f"bad{suffix}"
    if suffix == ".nc":
        bad.write_bytes(good.read_bytes()[:2000])  # truncated
    else:
        bad.mkdir()  # a folder that is no Zarr store
        (bad / "zarr.json").write_text("{not json")
    with pytest.raises(NeurosimError) as err:
        load_recording(bad)
    assert str(err.value) == f"{bad} is truncated or not a neurosim recording"
