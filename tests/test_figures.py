"""Every plot kind draws a figure a journal would print (issue 18).

Each kind is rendered on a recording in neurosim's layout and checked on
matplotlib's objects (:mod:`figure_checks`): a title in words, axis labels with
units, a labelled colourbar for every image. A new plot kind without a case
here fails :func:`test_every_plot_kind_has_a_case`.
"""

import json

import numpy as np
import pytest
import xarray as xr
from figure_checks import figures, problems  # noqa: F401  (figures: a fixture)
from test_plots import results
from test_spike_analysis import LIF as LIF_SMALL
from test_spike_analysis import run_text

import neurosim
from neurosim.errors import NeurosimError
from neurosim.kinds import register_all
from neurosim.plotting import PLOTS, plot

LABELS = ["0.4 nA", "0.55 nA", "0.7 nA", "0.85 nA", "1 nA"]
# test_spike_analysis's five LIF neurons, each named by its current
LIF = LIF_SMALL.replace("name: lif_small", "name: lif_named").replace(
    "spikes: true}", f"spikes: true, labels: {json.dumps(LABELS)}}}"
)


@pytest.fixture(scope="module")
def lif(tmp_path_factory):
    """A real recording: five LIF neurons named by their current, spikes and potential."""
    return run_text(tmp_path_factory.mktemp("lif"), LIF)


def _fi_curve() -> xr.Dataset:
    current = np.linspace(0, 1e-9, 6)
    return xr.Dataset(
        {
            "fi_current": ("fi_point", current, {"units": "amp"}),
            "fi_rate": (
                "fi_point",
                40 * current / 1e-9,
                {"units": "Hz", "measurement": "fi_curve"},
            ),
        }
    )


def _segregated() -> xr.Dataset:
    """The layout of a segregated network's recording (``neurosim run segregated_*``)."""
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(20, 784))
    steps, neurons = np.arange(120), np.arange(3)
    trace = rng.normal(size=(120, 3))
    return xr.Dataset(
        {
            "test_error": ("epoch", [12.0, 9.5, 8.1], {"units": "percent"}),
            "quick_error": ("quick_test", [20.0, 15.0, 11.0], {"units": "percent"}),
            "examples_seen": ("quick_test", [100, 200, 300], {"units": "examples"}),
            "W_0": (("h", "pixel"), w0, {"units": "1"}),
            "W_0_initial": (("h", "pixel"), w0 + rng.normal(size=w0.shape), {"units": "1"}),
            "W_1": (("o", "h"), rng.normal(size=(10, 20)), {"units": "1"}),
            **{
                f"layer0_{c}": (("step", "neuron"), trace, {"compartment": name, "units": "1"})
                for c, name in (("B", "basal"), ("A", "apical"), ("C", "soma"))
            },
            "phase_start": ("phase", [0, 50, 60, 110]),
            "phase_kind": ("phase", [0, 1, 0, 1]),
            "phase_label": ("phase", [3, 3, 7, 7]),
        },
        coords={"epoch": [0, 1, 2], "step": steps, "neuron": neurons},
        attrs={"data_name": "mnist", "data_test_examples": 10000, "data_train_examples": 300},
    )


def _comparison() -> xr.Dataset:
    x = np.array([[100.0, 200.0, 300.0], [100.0, 200.0, 300.0]])
    return xr.Dataset(
        {
            "curve_examples": (("rule", "curve_point"), x, {"units": "examples"}),
            "curve_error": (("rule", "curve_point"), [[50, 30, 20], [60, 40, 25]], {"units": "%"}),
            "angle_examples": (("rule", "angle_point"), x),
            "update_angle": (("rule", "angle_point"), [[0, 0, 0], [80, 60, 50]]),
        },
        coords={"rule": ["backprop", "fa"]},
        attrs={"data_name": "mnist"},
    )


def _fa_curves() -> xr.Dataset:
    steps = np.arange(0, 1000, 100)
    return xr.Dataset(
        {
            "error": ("step", np.exp(-steps / 300)),
            "update_angle": ("step", 90 - steps / 20),
            "weight_angle": ("step", 90 - steps / 25),
        },
        coords={"step": steps},
    )


def _stdp() -> xr.Dataset:
    delays = np.linspace(-0.05, 0.05, 11)
    change = np.sign(delays)[None] * np.exp(-np.abs(delays) / 0.02)[None] * [[0.1], [0.2]]
    return xr.Dataset(
        {"weight_change": (("frequency", "delay"), change, {"rule": "pair"})},
        coords={"frequency": [1.0, 20.0], "delay": delays},
    )


#: plot kind -> the recording it is drawn from (``lif``: the LIF recording fixture)
CASES = {
    "traces": "lif",
    "raster": "lif",
    "rates": "lif",
    "activity": "lif",
    "stacked_raster": "lif",
    "rate_boxplot": "lif",
    "fi_curve": _fi_curve,
    "weights": results,
    "curves": results,
    "learning_curve": _segregated,
    "class_templates": _segregated,
    "weight_change": _segregated,
    "compartments": _segregated,
    "comparison_curves": _comparison,
    "comparison_angles": _comparison,
    "fa_curves": _fa_curves,
    "stdp_window": _stdp,
}


def test_every_plot_kind_has_a_case():
    register_all()
    assert set(PLOTS) == set(CASES)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_plot_kind_has_a_title_units_and_colourbars(kind, lif, figures, tmp_path):  # noqa: F811
    register_all()
    ds = lif if CASES[kind] == "lif" else CASES[kind]()
    plot(ds, kind, tmp_path / f"{kind}.png")
    assert len(figures) == 1
    assert problems(figures[0]) == []


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_recording_without_what_a_kind_draws_is_one_line(kind, tmp_path):
    """Any kind on a recording of another kind (or an empty one): a NeurosimError, no traceback."""
    register_all()
    with pytest.raises(NeurosimError, match=r"recording has no|no compartment traces") as err:
        plot(xr.Dataset(attrs={"neurosim_version": neurosim.__version__}), kind, tmp_path / "e.png")
    assert "\n" not in str(err.value)


def test_a_weight_matrix_that_is_no_image_is_labelled(figures, tmp_path):  # noqa: F811
    ds = xr.Dataset({"W_rec": (("post", "pre"), np.arange(12.0).reshape(3, 4), {"units": "nS"})})
    plot(ds, "weights", tmp_path / "w.png")
    (fig,) = figures
    assert problems(fig) == []
    ax = fig.axes[0]
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("post (index)", "pre (index)")
    assert ax.images[0].colorbar.ax.get_ylabel() == "W_rec (nS)"


def test_the_checks_catch_what_they_look_for(figures):  # noqa: F811
    """A bare figure fails every check: the checks are not vacuous."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2)
    left.plot([0, 1], [0, 1])
    left.set_xlabel("time")
    right.imshow(np.eye(3))
    found = problems(fig)
    plt.close(fig)
    assert any("no title" in p for p in found)
    assert any("'time' names no unit" in p for p in found)
    assert any("y axis without a label" in p for p in found)
    assert any("without a colourbar" in p for p in found)


def test_recorded_neurons_are_named_in_legend_and_ticks(lif, figures, tmp_path):  # noqa: F811
    """A record's ``labels`` (the BAC protocol's soma only / apical only / coincident)."""
    assert json.loads(lif.lif_v.attrs["neuron_labels"]) == dict(zip("01234", LABELS, strict=True))
    plot(lif, "traces", tmp_path / "t.png")
    plot(lif, "raster", tmp_path / "r.png")
    traces, raster = figures
    legend = traces.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == LABELS
    assert [t.get_text() for t in raster.axes[0].get_yticklabels()] == LABELS
    assert traces._suptitle.get_text() == "Recorded potentials of lif_named"


def test_the_bac_protocol_names_its_three_conditions():
    protocol = neurosim.load_protocol("bac_firing")
    assert protocol.records[0].labels == ("soma only", "apical only", "coincident")


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("[a, b]", r"record\[0\]\.labels: 2 names given for 5 recorded neurons"),
        ("[a, b, c, d, 5]", r"record\[0\]\.labels\[4\]: expected a short name, got 5"),
        ("a", r"record\[0\]\.labels: expected a list of names"),
    ],
)
def test_wrong_labels_are_one_line_errors(tmp_path, labels, message):
    text = LIF.replace(f"labels: {json.dumps(LABELS)}", f"labels: {labels}")
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(NeurosimError, match=message) as err:
        neurosim.load_protocol(tmp_path / "p.yaml")
    assert "\n" not in str(err.value)


def test_a_test_only_run_shows_its_one_test_not_a_curve(figures, tmp_path):  # noqa: F811
    """``training.epochs: 0``: the loaded weights' test, and traces 'during the test'."""
    register_all()
    ds = _segregated().isel(epoch=[-1], quick_test=[])
    ds.attrs["trained_epochs"] = 0
    plot(ds, "learning_curve", tmp_path / "l.png")
    plot(ds, "compartments", tmp_path / "c.png")
    curve, traces = figures
    assert problems(curve) == [] and problems(traces) == []
    (ax,) = curve.axes
    assert "nothing learned" in ax.get_title() and len(ax.patches) == 1
    assert ax.patches[0].get_height() == pytest.approx(8.1)
    assert "during the test" in traces._suptitle.get_text()


def test_plot_help_lists_every_kind_and_the_cli_draws_each(lif, tmp_path, capsys):
    from neurosim.cli import PLOT_KINDS, main
    from neurosim.recording import save_recording

    register_all()
    assert sorted(PLOT_KINDS) == sorted(PLOTS)
    ds = _comparison()
    ds.attrs.update(lif.attrs)  # a real run's provenance, which neurosim plot checks
    path = save_recording(ds, tmp_path / "c.nc")
    # a kind registered beside its network, drawn from the command line
    assert main(["plot", str(path), "--kind", "comparison_curves"]) == 0
    assert (tmp_path / "c_comparison_curves.png").stat().st_size > 0
    assert main(["plot", str(path), "--kind", "nonsense"]) == 2
    assert "unknown plot kind 'nonsense'" in capsys.readouterr().err
