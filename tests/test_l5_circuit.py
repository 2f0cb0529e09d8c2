"""Issue 15, part 2: the layer-5 circuit's three effects, and the burst_fraction measurement.

The circuit is protocols/l5_circuit.yaml at a fifth of its size (40 pyramidal,
10 PV, 10 SOM cells; same file, same keys), each condition a ``--set``
override of it. Each condition runs once per module (about 5 s in cython).
"""

import itertools

import numpy as np
import pytest
import xarray as xr

from neurosim import load_protocol
from neurosim.analysis import MEASUREMENTS, burst_statistics
from neurosim.analysis.bursts import plateau_statistics
from neurosim.errors import NeurosimError
from neurosim.runner import simulate_dataset

REDUCED = ["populations.pyr.n=40", "populations.pv.n=10", "populations.som.n=10"]
NO_SOM = ["projections.som_pyr.weight=0 nS"]
SOM_LOW = ["stimuli.3.rate=0 Hz"]
SOM_HIGH = ["stimuli.3.rate=40 Hz"]

CONDITIONS = {
    "base": [],
    "no_som": NO_SOM,
    "basal_only": ["stimuli.1.rate=0 Hz"],
    "pv_0": ["projections.pv_pyr.weight=0 nS"],
    "pv_8": ["projections.pv_pyr.weight=8 nS"],
    "pv_16": ["projections.pv_pyr.weight=16 nS"],
    "som_low_apical_10": [*SOM_LOW, "stimuli.1.rate=10 Hz"],
    "som_low_apical_20": SOM_LOW,
    "som_high_apical_20": SOM_HIGH,
    "som_high_apical_40": [*SOM_HIGH, "stimuli.1.rate=40 Hz"],
}


@pytest.fixture(scope="module")
def circuit():
    """Run a condition of the reduced circuit once; return its measurements."""
    found = {}

    def run(condition):
        if condition not in found:
            protocol = load_protocol("l5_circuit", REDUCED + CONDITIONS[condition])
            ds = simulate_dataset(protocol)
            found[condition] = {
                key: float(ds[f"bursts_{key}"])
                for key in ("fraction", "burst_rate", "rate", "event_rate", "plateau_rate")
            }
        return found[condition]

    return run


def test_som_inhibition_suppresses_bursts_and_plateaus_not_the_somatic_rate(circuit):
    with_som, without = circuit("base"), circuit("no_som")
    # Ca plateaus and bursts need the apical zone: SOM input onto it removes most of them
    assert without["plateau_rate"] > 0.5  # Hz per cell: the effect has something to remove
    assert with_som["plateau_rate"] < 0.5 * without["plateau_rate"]
    assert with_som["burst_rate"] < 0.6 * without["burst_rate"]
    assert with_som["fraction"] < 0.65 * without["fraction"]
    # ... while the soma keeps most of its spikes, and most of its single spikes
    # (spikes outside bursts: the ones the basal drive makes)
    assert with_som["rate"] >= 0.7 * without["rate"]
    single = lambda r: r["rate"] * (1 - r["fraction"])  # noqa: E731
    assert single(with_som) >= 0.8 * single(without)
    assert with_som["burst_rate"] / without["burst_rate"] < 0.75 * (
        single(with_som) / single(without)
    )  # bursts lose far more than single spikes


def test_pv_inhibition_lowers_the_somatic_rate_monotonically(circuit):
    levels = ["pv_0", "base", "pv_8", "pv_16"]  # PV -> soma weight 0, 2, 8, 16 nS
    rates = [circuit(name)["rate"] for name in levels]
    assert all(a > b for a, b in itertools.pairwise(rates)), rates
    assert rates[-1] < 0.75 * rates[0]


def test_coincident_basal_and_apical_input_raises_the_burst_fraction(circuit):
    basal, both = circuit("basal_only"), circuit("som_low_apical_20")
    assert basal["rate"] > 5  # the basal drive alone makes the soma fire ...
    assert basal["fraction"] < 0.03  # ... single spikes
    assert both["fraction"] > basal["fraction"] + 0.1


def test_som_activity_sets_the_apical_threshold_for_bursts(circuit):
    # low SOM activity: bursts appear between 10 and 20 Hz of apical input
    low_10, low_20 = circuit("som_low_apical_10"), circuit("som_low_apical_20")
    assert low_10["fraction"] < 0.05 < 0.1 < low_20["fraction"]
    # high SOM activity: 20 Hz no longer suffices, 40 Hz does: the threshold moved up
    high_20, high_40 = circuit("som_high_apical_20"), circuit("som_high_apical_40")
    assert high_20["fraction"] < 0.5 * low_20["fraction"]
    assert high_40["fraction"] > 0.1


# --- burst_statistics on hand-made spike trains ---------------------------------------


def test_burst_statistics_by_hand():
    # neuron 0: a triplet (ISIs 4, 5 ms), a single spike, a doublet (ISI 9 ms);
    # neuron 1: two spikes 15 ms apart (two single spikes);
    # neuron 2: silent. Window 0..1 s, 3 neurons.
    times = [0.100, 0.104, 0.109, 0.300, 0.500, 0.509, 0.200, 0.215]
    neurons = [0, 0, 0, 0, 0, 0, 1, 1]
    b = burst_statistics(times, neurons, 3, 0.0, 1.0)
    assert (b.spikes, b.bursts, b.burst_spikes) == (8, 2, 5)
    assert b.fraction == pytest.approx(5 / 8)
    assert b.burst_rate == pytest.approx(2 / 3)  # 2 bursts / (3 neurons x 1 s)
    assert b.event_rate == pytest.approx((2 + 3) / 3)  # 2 bursts + 3 single spikes
    assert b.rate == pytest.approx(8 / 3)
    # with min_spikes 3 the doublet's spikes are single spikes
    b3 = burst_statistics(times, neurons, 3, 0.0, 1.0, min_spikes=3)
    assert (b3.bursts, b3.burst_spikes) == (1, 3)
    assert b3.event_rate == pytest.approx((1 + 5) / 3)
    # a wider max_isi joins neuron 1's pair; the window cuts the triplet to its last spike
    b_wide = burst_statistics(times, neurons, 3, 0.105, 1.0, max_isi=0.016)
    assert (b_wide.spikes, b_wide.bursts, b_wide.burst_spikes) == (6, 2, 4)
    assert b_wide.rate == pytest.approx(6 / (3 * 0.895))


def test_burst_statistics_without_spikes_and_unsorted_input():
    empty = burst_statistics([], [], 4, 0.0, 2.0)
    assert np.isnan(empty.fraction) and empty.rate == 0 and empty.event_rate == 0
    # order does not matter: two neurons' interleaved spikes are not a burst
    b = burst_statistics([0.012, 0.010, 0.011], [0, 1, 0], 2, 0.0, 1.0)
    assert (b.bursts, b.burst_spikes) == (1, 2)  # neuron 0's spikes 1 ms apart


def test_plateau_statistics_by_hand():
    v = np.full((10, 2), -0.07)
    v[2:5, 0] = -0.01  # one episode of 3 samples
    v[7:8, 0] = 0.0  # a second one
    v[0:2, 1] = -0.015  # starts above the threshold: an episode too
    rate, fraction = plateau_statistics(v, 1.0, -0.02)
    assert rate == pytest.approx(3 / 2)
    assert fraction == pytest.approx(6 / 20)


# --- the measurement's keys ------------------------------------------------------------


def _recording():
    time = np.arange(0.0, 1.0, 0.001)
    v_a = np.full((time.size, 1), -0.07)
    v_a[100:120, 0] = 0.0
    spike_time = xr.DataArray([0.100, 0.105, 0.400], dims=("pyr_spike",))
    spike_time.attrs.update(units="second", population_size=2)
    return xr.Dataset(
        {
            "pyr_v_a": xr.DataArray(
                v_a,
                dims=("pyr_time", "pyr_neuron"),
                coords={"pyr_time": time, "pyr_neuron": [0]},
                attrs={"units": "volt"},
            ),
            "pyr_spike_time": spike_time,
            "pyr_spike_neuron": xr.DataArray([0, 0, 1], dims=("pyr_spike",)),
        },
        attrs={"duration": 1.0},
    )


def test_burst_fraction_measurement_on_a_recording():
    compute = MEASUREMENTS["burst_fraction"].compute
    spec = {"record": "pyr", "variable": "v_a", "name": "b"}
    out = compute(_recording(), spec, "x")
    assert float(out["b_fraction"]) == pytest.approx(2 / 3)
    assert float(out["b_burst_rate"]) == pytest.approx(1 / 2)
    assert float(out["b_event_rate"]) == pytest.approx(2 / 2)
    assert float(out["b_rate"]) == pytest.approx(3 / 2)
    assert float(out["b_plateau_rate"]) == pytest.approx(1.0)
    assert float(out["b_plateau_fraction"]) == pytest.approx(0.02)
    assert out["b_burst_rate"].attrs["units"] == "hertz"


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"max_isi": "10 mV"}, r"x\.max_isi: .*"),
        ({"max_isi": "-1 ms"}, r"x\.max_isi: has to be > 0"),
        ({"min_spikes": 1}, r"x\.min_spikes: "),
        ({"min_spikes": 2.5}, r"x\.min_spikes: "),
        ({"plateau_threshold": "-20 mV"}, r"x\.plateau_threshold: needs 'variable'"),
        ({"variable": "v_a", "plateau_threshold": "5 nS"}, r"x\.plateau_threshold: "),
        ({"variable": "v_s"}, r"nothing recorded as 'pyr'/'v_s'"),
    ],
)
def test_bad_keys_are_one_line_errors(bad, message):
    compute = MEASUREMENTS["burst_fraction"].compute
    with pytest.raises(NeurosimError, match=message) as err:
        compute(_recording(), {"record": "pyr", **bad}, "x")
    assert "\n" not in str(err.value)


def test_unknown_key_and_unrecorded_variable_are_refused_when_the_protocol_loads():
    with pytest.raises(NeurosimError, match=r"analysis\[0\].*max_is") as err:
        load_protocol("l5_circuit", ["analysis.0.max_is=5 ms"])
    assert "\n" not in str(err.value)
    with pytest.raises(NeurosimError, match=r"analysis\[0\]\.variable: .*'v_b'") as err:
        load_protocol("l5_circuit", ["analysis.0.variable=v_b"])
    assert "\n" not in str(err.value)
