"""The Potjans & Diesmann (2014) microcircuit as data: counts, weights, scaling, receptors."""

import math
import re
import subprocess
import sys
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from neurosim.analysis.validation import ks_comparison, spike_statistics
from neurosim.errors import NeurosimError
from neurosim.networks.connectors import connector_from_spec, total_number
from neurosim.networks.projections import target_inputs
from neurosim.networks.scaling import scale_data
from neurosim.protocol import PROTOCOLS_DIR, load_protocol
from neurosim.runner import run_protocol

PD14 = PROTOCOLS_DIR / "potjans2014.yaml"
DATA = yaml.safe_load(PD14.read_text())
POPS = ["L23e", "L23i", "L4e", "L4i", "L5e", "L5i", "L6e", "L6i"]


def _psp_peak(psc: float, c=250e-12, tau_m=10e-3, tau_s=0.5e-3) -> float:
    """Peak (V) of the PSP of an exponential current of amplitude ``psc`` (A) onto a LIF."""
    t = np.linspace(0, 20e-3, 200001)
    v = psc / c * tau_m * tau_s / (tau_m - tau_s) * (np.exp(-t / tau_m) - np.exp(-t / tau_s))
    return float(v.max())


def test_the_file_holds_the_papers_network_at_full_scale():
    pops = DATA["populations"]
    assert list(pops) == POPS
    assert sum(p["n"] for p in pops.values()) == 77169
    total = 0
    for proj in DATA["projections"].values():
        conn = connector_from_spec(proj["connector"], "c")
        n_pre, n_post = pops[proj["source"]]["n"], pops[proj["target"]]["n"]
        k = total_number(conn, n_pre, n_post)
        # eq. 1 of the paper, computed here independently in 40-digit decimals
        with localcontext() as ctx:
            ctx.prec = 40
            pairs = Decimal(n_pre) * Decimal(n_post)
            exact = (1 - Decimal(str(conn.p))).ln() / (1 - 1 / pairs).ln()
        assert k == round(exact)
        total += k
    assert 2.9e8 < total < 3.1e8  # "about 0.3 billion synapses"
    # the zero entries of the table are absent, the others present: 55 of 64
    assert len(DATA["projections"]) == 55


def test_weights_are_the_currents_of_a_0_15_mV_psp():
    proj = DATA["projections"]
    mean = lambda name: float(proj[name]["weight"]["mean"].split()[0]) * 1e-12  # noqa: E731
    assert _psp_peak(mean("L23e_L23e")) == pytest.approx(0.15e-3, rel=1e-5)
    assert mean("L4e_L23e") == pytest.approx(2 * mean("L23e_L23e"), rel=1e-6)  # doubled
    assert mean("L23i_L4e") == pytest.approx(-4 * mean("L23e_L23e"), rel=1e-6)  # g = -4
    for name, spec in proj.items():
        w = spec["weight"]
        assert float(w["std"].split()[0]) == pytest.approx(abs(float(w["mean"].split()[0])) * 0.1)
        exc = name.split("_")[0].endswith("e")
        assert ("min" in w) == exc and ("max" in w) == (not exc)
        assert spec["synapse"]["receptor"] == ("ex" if exc else "in")


def _nest_dc(scale: float) -> np.ndarray:
    """NEST example's DC (pA) of the scaled network, from its formulas (helpers.py)."""
    n = np.array([DATA["populations"][p]["n"] for p in POPS], float)
    rates = np.array([float(DATA["scaling"]["rates"][p].split()[0]) for p in POPS])
    k_ext = np.array([s["n_inputs"] for s in DATA["stimuli"]], float)
    psc = np.zeros((8, 8))
    synapses = np.zeros((8, 8))
    for spec in DATA["projections"].values():
        i, j = POPS.index(spec["target"]), POPS.index(spec["source"])
        psc[i, j] = float(spec["weight"]["mean"].split()[0])
        p = spec["connector"]["p"]
        synapses[i, j] = np.log(1 - p) / np.log((n[i] * n[j] - 1) / (n[i] * n[j]))
    psc_ext = 87.8085
    input_rec = np.sum(psc * (synapses / n[:, None]) * rates, axis=1)
    return 0.001 * 0.5 * (1 - np.sqrt(scale)) * (input_rec + psc_ext * k_ext * 8.0)


@pytest.mark.parametrize("scale", [0.1, 0.25])
def test_scaling_keeps_the_mean_input_as_nest_does(scale):
    protocol = load_protocol(PD14, [f"scale={scale}"])
    assert protocol.data["scale"] == scale  # the data kept is the one written
    for name in POPS:
        assert protocol.populations[name]["n"] == round(DATA["populations"][name]["n"] * scale)
    poisson = [s for s in protocol.stimuli if s.kind == "poisson"]
    assert [s.spec["n_inputs"] for s in poisson] == [
        round(s["n_inputs"] * scale) for s in DATA["stimuli"]
    ]
    assert float(poisson[0].spec["weight"]) == pytest.approx(87.8085e-12 / math.sqrt(scale))
    w = protocol.projections[0].weight
    assert w.param("mean") == pytest.approx(87.8085e-12 / math.sqrt(scale), rel=1e-9)
    assert w.param("std") == pytest.approx(8.78085e-12 / math.sqrt(scale), rel=1e-5)
    dc = np.array([protocol.scaling["dc"][p] for p in POPS]) * 1e12
    np.testing.assert_allclose(dc, _nest_dc(scale), rtol=1e-5)
    steps = [s for s in protocol.stimuli if s.kind == "current_step"]
    assert [s.population for s in steps] == POPS
    assert all(s.variable == "I" for s in steps)


def test_projections_share_two_receptors_per_population():
    protocol = load_protocol(PD14)
    users = [*protocol.projections, *(s for s in protocol.stimuli if s.synapse is not None)]
    inputs = target_inputs(users, protocol.models)
    for name in POPS:
        eqs, summed, _ = inputs[name]
        # one excitatory and one inhibitory current, as iaf_psc_exp has
        assert summed == {"I": ["I_ex", "I_in"]}
        assert eqs.count("dI_syn_") == 2


def test_scale_one_is_the_full_network_and_the_default_is_a_tenth():
    assert DATA["scale"] == 0.1
    full, report = scale_data({**DATA, "scale": 1}, "pd14")
    assert full["populations"] == DATA["populations"] and full["stimuli"] == DATA["stimuli"]
    assert report == {"scale": 1.0}  # no DC, no weight change at full scale


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", r"scale: has to be in \(0, 100\], got 0"),
        ("-1", r"scale: has to be in \(0, 100\], got -1"),
        ("abc", r"scale: expected a number in \(0, 100\], got 'abc'"),
        ("1e-9", r"scale: 1e-09 leaves population 'L23e' of 20683 with no neuron"),
        ("2", r"the run needs about [0-9.]+ GB of memory .* more than the"),
        ("50", r"about 1\.14e\+11 synapses, more than"),
    ],
)
def test_bad_scales_give_one_line_and_exit_2_before_building(tmp_path, value, message):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "neurosim", "run", "potjans2014", "--set", f"scale={value}"]
    proc = subprocess.run(
        [*cmd, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists() or not any(out.iterdir())  # nothing built, nothing written


def _tiny(tmp_path, **changes):
    data = {
        "name": "receptors",
        "description": "Poisson input through a receptor",
        "seed": 3,
        "target": "numpy",
        "dt": "0.1 ms",
        "duration": "1000 ms",
        "populations": {"cell": {"model": "lif", "n": 20, "params": {"V_th": "1 V"}}},
        "stimuli": [
            {
                "kind": "poisson",
                "population": "cell",
                "variable": "I",
                "rate": "10 Hz",
                "n_inputs": 1000,
                "weight": "10 pA",
                "synapse": {"model": "exp_current", "tau": "5 ms", "receptor": "ex"},
            }
        ],
        "record": [{"population": "cell", "variables": ["I"], "dt": "1 ms"}],
        **changes,
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_poisson_input_through_a_receptor_has_campbells_mean(tmp_path):
    ds = run_protocol(load_protocol(_tiny(tmp_path)), tmp_path / "out", progress=False).dataset
    current = ds["cell_I"].values[100:]  # after the first 100 ms (5 tau)
    # Campbell: mean = n rate w tau = 1000 x 10 Hz x 10 pA x 5 ms = 0.5 nA
    assert current.mean() == pytest.approx(0.5e-9, rel=0.03)


def test_a_receptor_used_with_two_time_constants_is_refused(tmp_path):
    path = _tiny(
        tmp_path,
        projections={
            "self": {
                "source": "cell",
                "target": "cell",
                "variable": "I",
                "connector": "one_to_one",
                "weight": "1 pA",
                "synapse": {"model": "exp_current", "tau": "2 ms", "receptor": "ex"},
            }
        },
    )
    with pytest.raises(NeurosimError) as err:
        load_protocol(path)
    assert len(str(err.value).splitlines()) == 1
    assert re.search(r"receptor 'ex' of 'cell' is used by .* another synapse", str(err.value))


def _drawn_v(tmp_path, n: int, std: str, **changes):
    v = {"dist": "normal", "mean": "-60 mV", "std": std}
    return _tiny(
        tmp_path, populations={"cell": {"model": "lif", "n": n, "initial": {"v": v}}}, **changes
    )


def test_initial_values_may_be_drawn(tmp_path):
    record = [{"population": "cell", "variables": ["v"], "dt": "0.1 ms"}]
    path = _drawn_v(tmp_path, 4000, "4 mV", stimuli=[], duration="0.1 ms", record=record)
    ds = run_protocol(load_protocol(path), tmp_path / "out", progress=False).dataset
    v0 = ds["cell_v"].values[0]
    assert v0.mean() == pytest.approx(-60e-3, abs=4 * 4e-3 / math.sqrt(4000))
    assert v0.std() == pytest.approx(4e-3, rel=0.05)
    with pytest.raises(NeurosimError, match=r"initial\.v\.std: has to be >= 0"):
        load_protocol(_drawn_v(tmp_path, 2, "-4 mV"))


def test_spike_statistics_on_hand_made_trains():
    # neuron 0: regular at 10 Hz (cv 0); neuron 1: the same train (cc 1 with 0);
    # neuron 2: two spikes (no cv); neuron 3: silent
    regular = np.arange(0.05, 1.0, 0.1)
    times = np.concatenate([regular, regular, [0.2, 0.7]])
    neurons = np.concatenate([np.zeros(10, int), np.ones(10, int), [2, 2]])
    stats = spike_statistics(times, neurons, 4, 0.0, 1.0, binsize=0.01, subsample=4)
    np.testing.assert_allclose(stats["rate"], [10, 10, 2, 0])
    np.testing.assert_allclose(stats["cv"], [0, 0], atol=1e-12)
    # pairs of the three active neurons; the silent one has no correlation
    assert len(stats["cc"]) == 3 and stats["cc"].max() == pytest.approx(1.0)
    # a window drops what lies outside it
    half = spike_statistics(times, neurons, 4, 0.0, 0.5, binsize=0.01, subsample=4)
    np.testing.assert_allclose(half["rate"], [10, 10, 2, 0])


def test_ks_comparison_tells_an_ensemble_member_from_an_outsider():
    rng = np.random.default_rng(0)

    def realisation(shift):
        return {
            "p": {
                "rate": rng.normal(5 + shift, 1, 500),
                "cv": rng.normal(0.8, 0.1, 400),
                "cc": rng.normal(0, 0.01, 300),
            }
        }

    reference = [realisation(0) for _ in range(5)]
    same = ks_comparison(reference, [realisation(0)])
    other = ks_comparison(reference, [realisation(1.0)])
    assert same["p"]["rate"]["agrees"] and same["p"]["cv"]["agrees"]
    assert not other["p"]["rate"]["agrees"]  # a 1 sd shift of the rates is seen
    assert len(same["p"]["rate"]["within"]) == 10
    _check_validation_figures(reference, [realisation(0), realisation(0)], same)


def _check_validation_figures(nest, ours, result):
    """Issue 18: the validation's two figures say what they show, with units."""
    import importlib.util

    import matplotlib.pyplot as plt
    from figure_checks import problems

    path = Path(__file__).parents[1] / "benchmarks" / "validate_microcircuit.py"
    spec = importlib.util.spec_from_file_location("validate_microcircuit", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    import neurosim.plotting

    kept = []
    with pytest.MonkeyPatch.context() as patch:  # keep the figures, write nothing
        patch.setattr(neurosim.plotting, "save_figure", lambda fig, out: kept.append(fig))
        bench._figures(result, nest, ours, Path("unused"))
    assert not Path("unused").exists()
    distributions, distances = kept
    for fig in kept:
        assert problems(fig) == []
        plt.close(fig)
    assert "5 NEST and 2 neurosim" in distributions._suptitle.get_text()
    assert distributions.axes[0].get_xlabel() == "rate (Hz)"
    assert distances.axes[0].get_ylabel() == "KS distance (dimensionless)"


def test_the_cli_runs_the_microcircuit_and_writes_its_plots(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "neurosim", "run", "potjans2014", "--set", "scale=0.02"]
    proc = subprocess.run(
        [*cmd, "--set", "duration=800 ms", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in (
        "potjans2014.nc",
        "potjans2014_stacked_raster.png",
        "potjans2014_rate_boxplot.png",
    ):
        assert (out / name).is_file()
    with xr.open_dataset(out / "potjans2014.nc") as ds:
        assert ds.attrs["scale"] == 0.02
        rates = [float(ds[f"{p}_rate"]) for p in POPS]
        counts = [ds.sizes[f"{p}_spike"] for p in POPS]
    # low-rate irregular activity: every population fires during the run (L2/3e,
    # at about 0.5 Hz with 414 neurons, may stay silent in the 0.3 s window), none
    # saturates, and the inhibitory populations outfire their excitatory layer mates
    assert all(c > 0 for c in counts), counts
    assert all(0 <= r < 50 for r in rates), rates
    assert sum(rates[1::2]) > sum(rates[0::2]), rates
