"""NWB and Neo exports of a protocol's recording, read back by pynwb and Neo."""

import json
import sys

import neo
import numpy as np
import pytest
import quantities as pq
from pynwb import NWBHDF5IO

# the real LIF recording (spikes + membrane potential) and the tiny-recording builder
from test_spike_analysis import lif, recording  # noqa: F401

from neurosim.errors import NeurosimError
from neurosim.export import export, to_neo, to_nwb, write_neo


def spikes_of(ds, neuron: int) -> np.ndarray:
    return np.sort(ds.lif_spike_time.values[ds.lif_spike_neuron.values == neuron])


@pytest.fixture(scope="module")
def rec(lif):  # noqa: F811  (the imported fixture)
    # a measurement-like variable to check that non-trace data travels too
    out = lif.copy()
    out["lif_rate"] = ("lif_neuron", np.array([1.5, 2.5, 3.5, 4.5, 5.5]), {"units": "hertz"})
    return out


def test_nwb_round_trip_spikes_traces_and_provenance(rec, tmp_path):
    path = to_nwb(rec, tmp_path / "rec.nwb")
    assert not [p for p in tmp_path.iterdir() if p.name != "rec.nwb"]  # no temporary left
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        assert list(units.neuron) == [0, 1, 2, 3, 4] and set(units.record) == {"lif"}
        for k in range(5):
            np.testing.assert_array_equal(units.spike_times.iloc[k], spikes_of(rec, k))
        v = nwb.acquisition["lif_v"]
        np.testing.assert_array_equal(v.data[:], rec.lif_v.values)
        np.testing.assert_array_equal(v.timestamps[:], rec.lif_time.values)
        assert v.unit == "volt"
        assert "compartment soma" in v.description
        assert json.loads(v.comments)["neurons"] == [0, 1, 2, 3, 4]
        assert nwb.protocol == rec.attrs["protocol"]
        assert json.loads(nwb.notes)["seed"] == 1
        assert nwb.session_description.startswith("lif_small: Five LIF")
        np.testing.assert_array_equal(nwb.scratch["lif_rate"].data[:], rec.lif_rate.values)


def test_neo_block_holds_every_neuron_and_signal(rec):
    block = to_neo(rec)
    segment = block.segments[0]
    assert len(segment.spiketrains) == 5
    for st in segment.spiketrains:
        np.testing.assert_array_equal(st.magnitude, spikes_of(rec, st.annotations["neuron"]))
        assert st.t_stop == 0.3 * pq.s and st.units == pq.s
    (signal,) = segment.analogsignals
    assert signal.units == pq.V and signal.annotations["compartment"] == "soma"
    assert float(signal.sampling_rate.rescale(pq.Hz)) == pytest.approx(2000.0, rel=1e-12)
    np.testing.assert_array_equal(signal.magnitude, rec.lif_v.values)
    np.testing.assert_allclose(signal.times.magnitude, rec.lif_time.values, rtol=0, atol=1e-15)
    assert block.annotations["seed"] == 1 and block.annotations["protocol"] == rec.attrs["protocol"]


@pytest.mark.parametrize(("suffix", "reader"), [(".mat", "NeoMatlabIO"), (".pkl", "PickleIO")])
def test_neo_files_read_back_identical(rec, tmp_path, suffix, reader):
    path = export(rec, "neo", tmp_path / f"rec{suffix}")
    block = getattr(neo.io, reader)(str(path)).read_block()
    segment = block.segments[0]
    for st in segment.spiketrains:
        np.testing.assert_array_equal(st.magnitude, spikes_of(rec, int(st.annotations["neuron"])))
    np.testing.assert_array_equal(segment.analogsignals[0].magnitude, rec.lif_v.values)
    assert segment.analogsignals[0].units == pq.V
    assert list(segment.analogsignals[0].annotations["neurons"]) == [0, 1, 2, 3, 4]


def test_export_refuses_unknown_formats_without_writing(rec, tmp_path):
    with pytest.raises(NeurosimError, match=r"no Neo writer for '\.xyz'"):
        write_neo(rec, tmp_path / "rec.xyz")
    with pytest.raises(NeurosimError, match=r"ends in \.nwb"):
        to_nwb(rec, tmp_path / "rec.h5")
    with pytest.raises(NeurosimError, match="unknown export format"):
        export(rec, "csv", tmp_path / "rec.csv")
    assert not list(tmp_path.iterdir())


def test_nix_round_trip_spikes_and_signals(rec, tmp_path):
    path = export(rec, "neo", tmp_path / "rec.nix")
    assert [p.name for p in tmp_path.iterdir()] == ["rec.nix"]  # no temporary left
    with neo.io.NixIO(str(path), mode="ro") as io:
        block = io.read_block()
    segment = block.segments[0]
    assert len(segment.spiketrains) == 5
    for st in segment.spiketrains:
        np.testing.assert_array_equal(st.magnitude, spikes_of(rec, int(st.annotations["neuron"])))
        assert st.units == pq.s and st.t_stop == 0.3 * pq.s
    (signal,) = segment.analogsignals
    assert signal.units == pq.V and signal.annotations["compartment"] == "soma"
    np.testing.assert_array_equal(signal.magnitude, rec.lif_v.values)
    np.testing.assert_allclose(signal.times.magnitude, rec.lif_time.values, rtol=0, atol=1e-15)
    assert list(signal.annotations["neurons"]) == [0, 1, 2, 3, 4]
    assert block.annotations["seed"] == 1


def test_nix_without_nixio_says_how_to_get_it(rec, tmp_path, monkeypatch):
    # A None entry in sys.modules makes `import nixio` raise ImportError.
    monkeypatch.setitem(sys.modules, "nixio", None)
    with pytest.raises(NeurosimError, match="pip install nixio"):
        write_neo(rec, tmp_path / "rec.nix")
    assert not list(tmp_path.iterdir())


def test_silent_neurons_export_as_empty_units(tmp_path):
    ds = recording({0: [0.25]}, size=3, record="lif")
    with NWBHDF5IO(str(to_nwb(ds, tmp_path / "quiet.nwb")), "r") as io:
        counts = [len(t) for t in io.read().units.to_dataframe().spike_times]
    assert counts == [1, 0, 0]
    assert [len(st) for st in to_neo(ds).segments[0].spiketrains] == [1, 0, 0]
