"""Plot kinds: each writes a PNG or SVG, and fails in one line without its data."""

import numpy as np
import pytest
import xarray as xr

# the real LIF recording (spikes + membrane potential) and the tiny-recording builder
from test_spike_analysis import lif, recording  # noqa: F401

from neurosim.errors import NeurosimError
from neurosim.plotting import PLOTS, plot

PNG = b"\x89PNG\r\n\x1a\n"


def results(seeds: int = 3) -> xr.Dataset:
    """A training result in the layout of neurosim's networks, with a seed dim."""
    rng = np.random.default_rng(0)
    epochs = np.arange(1, 6)
    return xr.Dataset(
        {
            "test_error": (
                ("seed", "epoch"),
                40 * np.exp(-epochs / 2)[None] + rng.random((seeds, 5)),
                {"units": "percent"},
            ),
            "backprop_angle": (("seed", "probe"), 60 + rng.random((seeds, 8)), {"units": "degree"}),
            "W_0": (("W0_dim0", "W0_dim1"), rng.normal(size=(30, 784)), {"units": "1"}),
        },
        coords={"epoch": epochs, "probe_example": ("probe", np.arange(8) * 100)},
    )


def test_new_kinds_are_registered_next_to_the_old():
    assert {"traces", "raster", "rates", "weights", "curves"} <= set(PLOTS)


@pytest.mark.parametrize("kind", ["traces", "raster", "rates"])
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_recording_kinds_write_files(lif, tmp_path, kind, suffix):  # noqa: F811
    (path,) = plot(lif, kind, tmp_path / f"{kind}{suffix}")
    head = path.read_bytes()[:200]
    assert head.startswith(PNG) if suffix == ".png" else b"<svg" in head
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left


@pytest.mark.parametrize("kind", ["weights", "curves"])
def test_result_kinds_write_files(tmp_path, kind):
    import neurosim.networks.segregated_protocol  # noqa: F401  (registers its own kinds)

    (path,) = plot(results(), kind, tmp_path / f"{kind}.png")
    assert path.read_bytes().startswith(PNG) and path.stat().st_size > 5000


def test_curves_of_a_comparison_use_its_example_counts(tmp_path):
    ds = xr.Dataset(
        {
            "curve_examples": (("rule", "curve_point"), [[100, 200, np.nan], [100, 200, 300]]),
            "curve_error": (("rule", "curve_point"), [[50, 30, np.nan], [60, 40, 20]]),
        },
        coords={"rule": ["fa", "backprop"]},
    )
    ds.curve_examples.attrs["units"] = "examples"
    ds.curve_error.attrs["units"] = "%"
    (path,) = plot(ds, "curves", tmp_path / "c.svg")
    assert b"training examples" in path.read_bytes()


def test_weights_of_a_non_image_matrix(tmp_path):
    ds = xr.Dataset({"weight_change": (("frequency", "delay"), np.arange(12.0).reshape(3, 4))})
    (path,) = plot(ds, "weights", tmp_path / "w.svg")
    assert b"frequency" in path.read_bytes()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("rates", "no spikes"),
        ("weights", "no weight matrices"),
        ("curves", "no learning curves"),
        ("raster", "no spikes"),
    ],
)
def test_missing_data_is_a_one_line_error(tmp_path, kind, message):
    ds = xr.Dataset({"cell_v": (("cell_time", "cell_neuron"), np.zeros((3, 1)))})
    with pytest.raises(NeurosimError, match=message) as err:
        plot(ds, kind, tmp_path / "x.png")
    assert "\n" not in str(err.value)
    assert not list(tmp_path.iterdir())


def test_rates_plot_of_a_silent_population_still_draws(tmp_path):
    (path,) = plot(recording({}, size=3), "rates", tmp_path / "r.png")
    assert path.read_bytes().startswith(PNG)


def test_raster_spans_the_run_with_integer_neuron_ticks(tmp_path, monkeypatch):
    """Issue 18: the x axis is the recorded run, not the window around the spikes."""
    import neurosim.plotting

    figures = []
    real_save = neurosim.plotting.save_figure

    def keep(fig, path):
        figures.append(fig)
        return real_save(fig, path)

    monkeypatch.setattr(neurosim.plotting, "save_figure", keep)
    ds = recording({0: [0.0255], 2: [0.0261]}, size=4, duration=0.4)
    plot(ds, "raster", tmp_path / "r.png")
    (ax,) = figures[0].axes
    assert ax.get_xlim() == (0.0, 400.0)  # ms, the whole 0.4 s run
    assert ax.get_ylim() == (-0.5, 3.5)  # all four neurons, the silent ones too
    assert all(float(t).is_integer() for t in ax.get_yticks())
    assert ax.get_xlabel() == "time (ms)" and "neuron" in ax.get_ylabel()
    assert ax.get_title() == "cell: 2 spikes from 4 neurons"
    assert figures[0]._suptitle.get_text() == "Spike raster of tiny"
