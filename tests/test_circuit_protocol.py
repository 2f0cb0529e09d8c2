"""The pyramidal/interneuron circuit written as data (issue 14's acceptance protocol)."""

import numpy as np

from neurosim.export.nwb import to_nwb
from neurosim.protocol import load_protocol
from neurosim.runner import run_protocol

# the shipped protocol at under half its size (same file, same keys)
SMALLER = ["populations.pyr.n=40", "populations.pv.n=8", "populations.som.n=8"]


def test_pyramidal_interneuron_circuit_runs_learns_and_exports(tmp_path):
    protocol = load_protocol("pyramidal_interneurons", SMALLER)
    ds = run_protocol(protocol, tmp_path / "out", progress=False).dataset
    w = ds["pyr_pyr_w"]
    assert w.attrs["units"] == "siemens" and w.dims == ("pyr_pyr_time", "pyr_pyr_synapse")
    assert w.shape[1] == 100  # a sample of 100 of the ~156 synapses
    changed = np.abs(w.values[-1] - w.values[0])
    assert changed.max() > 1e-12  # STDP changed weights
    assert w.values.min() >= 0.0 and w.values.max() <= 2e-9 + 1e-18  # within the bounds
    pairs = set(zip(ds["pyr_pyr_pre"].values, ds["pyr_pyr_post"].values, strict=True))
    assert all(i != j for i, j in pairs)  # autapses: false
    for pop in ("pyr", "pv", "som"):
        assert float(ds[f"{pop}_stats_rate"]) > 0
    # SOM-like cells inhibit the apical dendrite through E_rev = -80 mV
    assert float(ds["pyr_I_a"].min()) < 0
    out = to_nwb(ds, tmp_path / "circuit.nwb")
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        series = nwb.acquisition["pyr_pyr_w"]
        assert series.unit == "siemens" and series.data.shape == w.shape
        assert len(nwb.units) == 40 + 8 + 8
