"""Spike analysis (neurosim.analysis.spikes, ds.neurosim): hand-computed cases and Elephant."""

import neo
import numpy as np
import pytest
import quantities as pq
import xarray as xr
from elephant.conversion import BinnedSpikeTrain
from elephant.kernels import GaussianKernel
from elephant.spike_train_correlation import correlation_coefficient
from elephant.statistics import cv as elephant_cv
from elephant.statistics import fanofactor, instantaneous_rate

import neurosim
import neurosim.analysis.accessor  # registers ds.neurosim
from neurosim.analysis import spikes
from neurosim.analysis.accessor import analyze, report
from neurosim.errors import NeurosimError
from neurosim.testing import assert_close

# Spike times off every bin edge and sample, so that hand counts do not hinge on rounding.
TRAIN = [0.1205, 0.3305, 0.6105]


def recording(trains: dict[int, list[float]], size: int, duration: float = 1.0, record="cell"):
    """A recording in neurosim's layout with the given spikes (s) per neuron."""
    pairs = sorted((t, k) for k, ts in trains.items() for t in ts)
    dim = f"{record}_spike"
    attrs = {"population": record, "population_size": size}
    return xr.Dataset(
        {
            f"{record}_spike_time": (dim, [p[0] for p in pairs], {"units": "second", **attrs}),
            f"{record}_spike_neuron": (
                dim,
                np.array([p[1] for p in pairs], np.int64),
                {"units": "1", **attrs},
            ),
        },
        attrs={"duration": duration, "protocol_name": "tiny"},
    )


@pytest.fixture
def tiny():
    # neuron 1 copies neuron 0, neuron 2 fires twice, neuron 3 is silent
    return recording({0: TRAIN, 1: TRAIN, 2: [0.2205, 0.7705]}, size=4)


def test_isi_of_a_tiny_train_is_the_differences(tiny):
    isi = spikes.isi_intervals(tiny, "cell")
    own = isi.sel(cell_isi=isi.cell_isi_neuron == 0)
    assert_close(own.values, np.array([0.21, 0.28]), atol=1e-12, what="ISI")
    assert isi.attrs["units"] == "second"
    assert list(isi.cell_isi_neuron.values) == [0, 0, 1, 1, 2]


def test_cv_is_std_over_mean_and_nan_below_two_intervals(tiny):
    cv = spikes.cv(tiny, "cell")
    intervals = np.array([0.21, 0.28])
    assert_close(float(cv.sel(cell_neuron=0)), intervals.std() / intervals.mean(), rtol=1e-12)
    assert float(cv.sel(cell_neuron=0)) == pytest.approx(0.035 / 0.245, rel=1e-12)
    assert np.isnan(cv.sel(cell_neuron=[2, 3]).values).all()


def test_binned_rates_are_counts_over_bin(tiny):
    rates = tiny.neurosim.rates("cell", bin="500 ms")
    assert rates.attrs["units"] == "hertz"
    assert_close(rates.cell_rate_time.values, np.array([0.25, 0.75]), atol=1e-12)
    # neuron 0: two spikes in [0, 0.5), one in [0.5, 1)
    assert_close(rates.sel(cell_neuron=0).values, np.array([4.0, 2.0]), atol=1e-9)
    assert_close(rates.sel(cell_neuron=3).values, np.zeros(2), atol=0.0)


def test_smoothed_rates_match_elephant_and_keep_the_spike_count(tiny):
    rates = spikes.firing_rates(tiny, "cell", bin=0.001, sigma=0.02)
    train = neo.SpikeTrain(TRAIN, units="s", t_start=0.0, t_stop=1.0)
    reference = instantaneous_rate(train, 1 * pq.ms, kernel=GaussianKernel(20 * pq.ms))
    assert_close(rates.sel(cell_neuron=0).values, reference.magnitude[:, 0], rtol=1e-12)
    # spikes lie > 5 sigma from the borders: the rate integrates to the spike count
    assert float(rates.sel(cell_neuron=0).sum()) * 0.001 == pytest.approx(3.0, rel=1e-3)


def test_psth_counts_and_rates_by_hand(tiny):
    events = [0.0, 0.5, 0.9]  # the last window (0.9..1.1 s) leaves the recording
    counts = spikes.psth(tiny, "cell", events, window=(0.0, 0.2), bin=0.1, output="counts")
    assert counts.attrs["events"] == 2
    # neuron 0: 0.1205 s after event 0 and 0.1105 s after event 1 -> both in bin 2
    assert list(counts.sel(cell_neuron=0).values) == [0.0, 2.0]
    assert list(counts.sel(cell_neuron=2).values) == [0.0, 0.0]
    rate = tiny.neurosim.psth("cell", events, window=(0.0, 0.2), bin=0.1)
    assert_close(rate.sel(cell_neuron=0).values, np.array([0.0, 10.0]), atol=1e-9)
    assert_close(rate.cell_psth_time.values, np.array([0.05, 0.15]), atol=1e-12)


def test_fano_factor_of_known_counts(tiny):
    # windows of 0.25 s: neuron 0 counts [1, 1, 1, 0] -> var 0.1875 / mean 0.75
    fano = spikes.fano(tiny, "cell", window=0.25)
    assert float(fano.sel(cell_neuron=0)) == pytest.approx(0.25, rel=1e-12)
    assert np.isnan(float(fano.sel(cell_neuron=3)))
    # trials around events: counts [2, 1] -> var 0.25 / mean 1.5
    trials = tiny.neurosim.fano("cell", window=(0.0, 0.5), events=[0.0, 0.5])
    assert float(trials.sel(cell_neuron=0)) == pytest.approx(1 / 6, rel=1e-12)
    trains = [neo.SpikeTrain(t, units="s", t_stop=0.25) for t in ([0.1], [0.1], [0.1], [])]
    assert float(fano.sel(cell_neuron=0)) == pytest.approx(fanofactor(trains), rel=1e-12)


def test_identical_trains_correlate_fully_and_match_elephant(tiny):
    corr = tiny.neurosim.correlations("cell", bin=0.05)
    assert float(corr.sel(cell_neuron=0, cell_neuron_other=1)) == pytest.approx(1.0, abs=1e-12)
    assert np.isnan(float(corr.sel(cell_neuron=3, cell_neuron_other=0)))
    binned = BinnedSpikeTrain(spikes.spike_trains(tiny, "cell", [0, 2]), bin_size=50 * pq.ms)
    expected = correlation_coefficient(binned)[0, 1]
    assert float(corr.sel(cell_neuron=0, cell_neuron_other=2)) == pytest.approx(expected, abs=1e-12)
    assert -1.0 <= expected < 1.0


def test_sta_of_a_ramp_is_the_mean_spike_time_plus_lag(tiny):
    t = np.arange(1000) * 1e-3
    v = np.stack([t, 2 * t], axis=1)
    ds = tiny.assign(
        cell_v=xr.DataArray(
            v,
            dims=("cell_time", "cell_neuron"),
            coords={"cell_time": t, "cell_neuron": [0, 3]},
            attrs={"units": "volt"},
        )
    )
    sta = ds.neurosim.sta("cell", "v", window=(-0.002, 0.002))
    assert sta.attrs["units"] == "volt"
    assert_close(sta.cell_sta_lag.values, np.array([-2, -1, 0, 1]) * 1e-3, atol=1e-12)
    # Elephant starts each window at the sample below spike + lag: 0.5 ms early
    expected = np.mean(TRAIN) - 0.0005 + sta.cell_sta_lag.values
    assert_close(sta.sel(cell_neuron=0).values, expected, atol=1e-12, what="STA")
    assert np.isnan(sta.sel(cell_neuron=3).values).all()  # neuron 3 never fires


def test_receptive_fields_from_weights_and_from_a_stimulus(tiny):
    ds = tiny.assign(W_0=(("hidden", "pixel"), np.arange(48.0).reshape(3, 16)))
    fields = ds.neurosim.receptive_fields()
    assert fields.shape == (3, 4, 4)
    assert float(fields[1, 2, 3]) == 16 + 11
    frames = xr.DataArray(
        np.repeat(np.arange(4.0)[:, None], 4, axis=1),
        dims=("frame_time", "pixel"),
        coords={"frame_time": [0.0, 0.25, 0.5, 0.75]},
    )
    sta = spikes.receptive_fields(ds, record="cell", stimulus=frames)
    # neuron 0 fires during frames 0, 1, 2 -> mean 1; neuron 2 during 0 and 3 -> 1.5
    assert sta.shape == (4, 2, 2)
    assert_close(sta[0].values, np.ones((2, 2)), atol=1e-12)
    assert_close(sta[2].values, np.full((2, 2), 1.5), atol=1e-12)
    with pytest.raises(NeurosimError, match="not a square image"):
        spikes.receptive_fields(ds.assign(W_1=(("a", "b"), np.zeros((2, 5)))), "W_1")


def test_curve_summary_median_and_quartiles_over_seeds():
    errors = np.array([[50, 30, 20, 10], [60, 40, 25, np.nan], [40, 35, 30, 15.0]])
    curve = xr.DataArray(errors, dims=("seed", "epoch"), attrs={"units": "percent"}, name="err")
    summary = spikes.curve_summary(curve, tail=0.5)
    # the NaN-padded seed ends at 25
    finals = np.array([10.0, 25.0, 15.0])
    assert_close(summary.final.values, np.quantile(finals, [0.25, 0.5, 0.75]), atol=1e-12)
    assert list(summary["min"].values) == [12.5, 15.0, 20.0]
    assert_close(float(summary["mean"].sel(quantile=0.5)), 30.0, atol=1e-12)
    # last ceil(0.5 * valid points): (20 + 10) / 2, (40 + 25) / 2, (30 + 15) / 2
    assert float(summary.tail_mean.sel(quantile=0.5)) == 22.5
    assert summary.final.attrs["units"] == "percent"
    angles = xr.DataArray([[100.0, 80, 60, 40]], dims=("seed", "probe"), name="angle")
    assert float(spikes.angle_summary(angles).below_90.sel(quantile=0.5)) == 0.75


def test_learning_curves_accessor_picks_errors_and_angles():
    ds = xr.Dataset(
        {
            "test_error": (("seed", "epoch"), [[30.0, 20.0], [40.0, 10.0]], {"units": "percent"}),
            "backprop_angle": (
                ("seed", "probe"),
                [[80.0, 95.0], [70.0, 60.0]],
                {"units": "degree"},
            ),
            "train_loss": (("seed", "epoch"), [[1.0, 0.5], [1.0, 0.4]], {"units": "1"}),
        }
    )
    out = ds.neurosim.learning_curves()
    assert "train_loss_final" not in out
    assert float(out.test_error_final.sel(quantile=0.5)) == 15.0
    assert float(out.backprop_angle_below_90.sel(quantile=0.5)) == 0.75


def test_errors_are_one_line_neurosim_errors(tiny):
    with pytest.raises(NeurosimError, match="no spikes recorded as 'cortex'"):
        spikes.firing_rates(tiny, "cortex")
    with pytest.raises(NeurosimError, match="must be > 0"):
        tiny.neurosim.rates(bin="0 ms")
    with pytest.raises(NeurosimError, match="units of volt"):
        tiny.neurosim.rates(bin="10 mV")
    with pytest.raises(NeurosimError, match="no event"):
        tiny.neurosim.psth(events=[2.0])
    two = tiny.merge(recording({0: [0.5]}, size=1, record="other"))
    with pytest.raises(NeurosimError, match="say which record"):
        two.neurosim.cv()


def test_a_sweep_point_with_nan_padding_and_float_indices(tiny):
    # neurosim.sweep pads shorter spike tables with NaN and stores indices as floats
    point = tiny.copy()
    point["cell_spike_neuron"] = point.cell_spike_neuron.astype(float)
    point = point.pad(cell_spike=(0, 2), constant_values=np.nan)
    assert point.sizes == {"cell_spike": 10} and np.isnan(point.cell_spike_time[-1])
    xr.testing.assert_equal(point.neurosim.rates(bin=0.5), tiny.neurosim.rates(bin=0.5))
    assert int(analyze(point).spikes.sel(record="cell")) == 8
    swept = xr.concat([tiny, tiny], dim="seed")
    with pytest.raises(NeurosimError, match="select one sweep point"):
        swept.neurosim.cv()


def test_analyze_summary_and_report(tiny):
    summary = analyze(tiny, bin=0.25)
    cell = summary.sel(record="cell")
    assert int(cell.neurons) == 4 and int(cell.spikes) == 8
    assert float(cell.mean_rate) == pytest.approx(8 / 4 / 1.0)
    assert float(cell.active) == 0.75
    assert_close(summary.cell_rate.values, np.array([3.0, 3.0, 2.0, 0.0]), atol=1e-12)
    text = report(summary)
    assert "cell" in text and "75 %" in text


def test_analyze_gives_each_rule_of_a_comparison_its_own_curve():
    """A per-rule value is no curve along rules; each rule's curve is summarised alone."""
    ds = xr.Dataset(
        {
            "test_error": ("rule", [21.9, 8.3], {"units": "%"}),
            "curve_error": (("rule", "curve_point"), [[79.0, 21.9], [25.5, 8.3]], {"units": "%"}),
        },
        coords={"rule": ["segregated", "backprop"]},
        attrs={"neurosim_version": neurosim.__version__},
    )
    summary = analyze(ds)
    assert "test_error_final" not in summary  # not "final": the last rule's number
    assert list(summary.curve_error_final.values) == [21.9, 8.3]
    assert list(summary.curve_error_min.values) == [21.9, 8.3]
    lines = report(summary).splitlines()
    assert "curve_error [rule=segregated]: final 21.9 %, min 21.9 %" in lines
    assert "curve_error [rule=backprop]: final 8.3 %, min 8.3 %" in lines


LIF = """\
name: lif_small
description: Five LIF neurons driven by current steps.
seed: 1
target: numpy
dt: 0.1 ms
duration: 300 ms
populations:
  lif: {model: lif, n: 5}
stimuli:
  - {kind: current_step, population: lif, variable: I,
     amplitude: {linspace: [0.4 nA, 1 nA]}, start: 50 ms}
record:
  - {population: lif, variables: [v], dt: 0.5 ms, spikes: true}
output: {formats: [netcdf], plots: []}
"""


def run_text(folder, text: str):
    """The recording of a protocol given as YAML text, run in ``folder``."""
    path = folder / "protocol.yaml"
    path.write_text(text)
    return neurosim.run_protocol(
        neurosim.load_protocol(path), folder / "out", progress=False
    ).dataset


@pytest.fixture(scope="module")
def lif(tmp_path_factory):
    """A real recording: five LIF neurons, spikes and membrane potential."""
    return run_text(tmp_path_factory.mktemp("lif"), LIF)


def test_protocol_recording_agrees_with_elephant_on_independent_trains(lif):
    times, owners = lif.lif_spike_time.values, lif.lif_spike_neuron.values
    trains = [neo.SpikeTrain(np.sort(times[owners == k]), units="s", t_stop=0.3) for k in range(5)]
    assert all(len(st) > 5 for st in trains)
    cv = lif.neurosim.cv()
    expected = [elephant_cv(np.diff(st.magnitude)) for st in trains]
    assert_close(cv.values, np.array(expected), rtol=1e-12, what="CV")
    rates = lif.neurosim.rates(bin=0.05)
    assert_close(rates.sum("lif_rate_time").values * 0.05, np.array([len(st) for st in trains]))
    # stronger current, higher rate: the ramp of amplitudes shows in the rates
    assert np.all(np.diff(rates.mean("lif_rate_time").values) > 0)
    sta = lif.neurosim.sta(var="v", window=(-0.002, 0.0))
    # the membrane potential rises towards threshold just before each spike
    assert np.all(sta.values[-1] > sta.values[0])


def sweep_store(tiny):
    """A sweep store's layout (neurosim.sweep): 2 x 2 points, one not run yet."""
    quiet = recording({0: [0.5]}, size=4)
    points = [tiny, quiet, tiny, quiet]
    for k, p in enumerate(points):
        p = p.copy()
        p["cell_spike_neuron"] = p.cell_spike_neuron.astype(float)
        points[k] = p.pad(cell_spike=(0, 8 - p.sizes["cell_spike"]), constant_values=np.nan)
    both = xr.concat(points, dim="point").assign_coords(
        g=("point", ["0.5", "0.5", "2.0", "2.0"]), seed=("point", [0, 1, 0, 1])
    )
    ds = both.set_index(point=["g", "seed"]).unstack("point").transpose("g", "seed", ...)
    ds["point_done"] = (("g", "seed"), np.array([[1, 1], [1, 0]], np.int8))
    ds.attrs["sweep_grid"] = '{"g": ["0.5", "2.0"], "seed": [0, 1]}'
    return ds


def test_analyze_summarises_a_sweep_per_point_or_at_a_selected_one(tiny, capsys):
    """Issue 18: ``neurosim analyze`` on a sweep store summarises every point."""
    ds = sweep_store(tiny)
    summary = analyze(ds)
    spikes_per_point = summary.spikes.sel(record="cell")
    assert spikes_per_point.dims == ("g", "seed")
    assert spikes_per_point.sel(g="0.5").values.tolist() == [8, 1]
    assert int(spikes_per_point.sel(g="2.0", seed=0)) == 8
    assert np.isnan(spikes_per_point.sel(g="2.0", seed=1))  # not run yet
    text = report(summary)
    assert "[g=0.5, seed=1]" in text and "[g=2.0, seed=1] not run yet" in text
    # one sweep dimension left (g fixed): per seed
    assert analyze(ds.isel(g=0)).spikes.sel(record="cell").values.tolist() == [8, 1]
    # --select picks one point: the one-recording summary
    one = analyze(ds, select=["g=0.5", "seed=1"])
    assert int(one.spikes.sel(record="cell")) == 1 and "[" not in report(one)
    with pytest.raises(NeurosimError, match=r"--select g=3: g takes 0.5, 2.0"):
        analyze(ds, select=["g=3"])
    with pytest.raises(NeurosimError, match="KEY one of the sweep dimensions: g, seed"):
        analyze(ds, select=["tau=1"])
