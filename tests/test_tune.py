"""``neurosim tune``: setup checked before any trial, failed trials, units, kill and resume."""

import math
import re

import brian2
import numpy as np
import pytest
import torch
import xarray as xr

import neurosim.blackbox.tune as tune_module
from neurosim.blackbox import functions
from neurosim.blackbox.functions import FUNCTIONS
from neurosim.blackbox.tune import TuneParam, parse_param, tune
from neurosim.cli import main
from neurosim.errors import NeurosimError
from neurosim.runner import RunResult

BRANIN = FUNCTIONS["branin"]
PARAMS = [parse_param("training.x.0=-5:10"), parse_param("training.x.1=0:15")]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The learned optimizer's batch-1 steps: one thread is far cheaper on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=-5:10", TuneParam("a", -5.0, 10.0, "")),
        ("a=1e-3:2e-2", TuneParam("a", 1e-3, 2e-2, "")),
        ("stimuli.0.amplitude=0:100pA", TuneParam("stimuli.0.amplitude", 0.0, 100.0, "pA")),
        ("a=0pA:100pA", TuneParam("a", 0.0, 100.0, "pA")),
        (" a = 0 pA : 100 pA ", TuneParam("a", 0.0, 100.0, "pA")),
        ("a=0.01nA:100pA", TuneParam("a", 10.0, 100.0, "pA")),
        ("a=-70:-50 mV", TuneParam("a", -70.0, -50.0, "mV")),
    ],
)
def test_param_ranges_carry_units(text, expected):
    got = parse_param(text)
    assert (got.key, got.unit) == (expected.key, expected.unit)
    assert got.low == pytest.approx(expected.low) and got.high == pytest.approx(expected.high)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a=1:0", "expected finite LOW < HIGH, got 1:0"),
        ("a=0.2nA:100pA", "expected finite LOW < HIGH, got 200:100pA"),
        ("a", "expected KEY=LOW:HIGH"),
        ("a=1", "expected KEY=LOW:HIGH"),
        ("=0:1", "expected KEY=LOW:HIGH"),
        ("a=x:1", "cannot read 'x' as a number"),
        ("a=nan:1", "cannot read 'nan' as a number"),
        ("a=0:1pB", "unknown unit 'pB'"),
        ("a=0nA:1mV", "has units of amp, expected volt"),
    ],
)
def test_bad_param_ranges_are_one_line_errors(text, message):
    with pytest.raises(NeurosimError, match=message) as err:
        parse_param(text)
    assert "\n" not in str(err.value)


def test_a_range_sets_the_value_in_its_units():
    assert TuneParam("stimuli.0.amplitude", 0, 100, "pA").setting(37.5) == (
        "stimuli.0.amplitude=37.5 pA"
    )
    assert TuneParam("training.x.0", -5, 10).setting(2.0) == "training.x.0=2.0"


@pytest.fixture
def no_trials(monkeypatch):
    """Fail the test if any trial runs."""

    def refuse(*args, **kwargs):
        raise AssertionError("a trial ran before the setup was checked")

    monkeypatch.setattr(tune_module, "run_protocol", refuse)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tune_branin", "--param", "training.x.0=-5:10", "--metric", "nope"],
         "--metric 'nope': the recording of tune_branin will have no such variable; "
         "it will have: regret, value, x"),
        (["smoke_passive", "--param", "stimuli.0.amplitude=0:100pA", "--metric", "nope"],
         "--metric 'nope': the recording of smoke_passive will have no such variable; "
         "it will have: cell_I_s, cell_v_a"),
        (["smoke_passive", "--param", "stimuli.0.amplitude=0:100", "--metric", "cell_v_s"],
         "the range is in plain numbers but .*smoke_passive.yaml has '50 pA' there, in units of "
         "amp: write e.g. --param stimuli.0.amplitude=0:100pA"),
        (["smoke_passive", "--param", "stimuli.0.amplitude=0:1mV", "--metric", "cell_v_s"],
         "the range is in units of volt \\(mV\\) but"),
        (["tune_branin", "--param", "training.x.0=0:1pA", "--metric", "value"],
         "has 0.0 there, a plain number: give the range without a unit"),
        (["tune_branin", "--param", "training.x=0:1", "--metric", "value"],
         "has \\[0.0, 0.0\\] there, not a number or quantity to tune"),
        (["tune_branin", "--param", "training.y.0=0:1", "--metric", "value"],
         "has no key 'training.y'"),
        (["smoke_passive", "--param", "stimuli.0.start=10:400ms", "--metric", "cell_v_s"],
         "with every --param at its high end \\(stimuli.0.start=400.0 ms\\): .*has to be before "
         "stop"),
        (["tune_branin", "--param", "training.x.0=0:1", "--param", "training.x.0=0:2",
          "--metric", "value"], "a key is given twice"),
        (["tune_branin", "--param", "training.x.0=0:1", "--metric", "value", "--budget", "0"],
         "--budget: has to be an integer >= 1"),
        (["tune_branin", "--param", "training.x.0=0:1", "--metric", "value", "--optimizer",
          "cma", "--weights", "w.pt"], "--weights: only for --optimizer learned"),
    ],
)  # fmt: skip
def test_the_setup_is_checked_before_any_trial(tmp_path, capsys, no_trials, args, message):
    out = tmp_path / "out"
    assert main(["tune", *args, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and len(err) < 400
    assert re.search(message, err), err
    assert not out.exists()


def test_a_unit_range_reaches_the_protocol_in_its_units(tmp_path, monkeypatch):
    seen = []

    def fake_run(proto, out_dir, progress=False):
        amplitude = proto.stimuli[0].spec["amplitude"]
        seen.append(amplitude)
        value = float(amplitude / brian2.pA)
        return RunResult(xr.Dataset({"steady_state_cell_v_s": ((), (value - 30.0) ** 2)}))

    monkeypatch.setattr(tune_module, "run_protocol", fake_run)
    ds = tune("smoke_passive", [parse_param("stimuli.0.amplitude=0:100pA")],
              metric="steady_state_cell_v_s", optimizer="cma", budget=25, out_dir=tmp_path,
              progress=False)  # fmt: skip
    assert len(seen) == 25
    assert all(a.dim is brian2.pA.dim and 0 <= float(a / brian2.pA) <= 100 for a in seen)
    assert list(ds.unit.values) == ["pA"]
    np.testing.assert_allclose(ds.params.values[:, 0], [float(a / brian2.pA) for a in seen])
    assert abs(float(ds.best_params[0]) - 30.0) < 3.0


def _patched_branin(monkeypatch, f):
    monkeypatch.setitem(
        FUNCTIONS, "branin", functions.TestFunction("branin", f, BRANIN.bounds, 0.397887)
    )


def _diverging(x, above=5.0):
    """Branin, except NaN for x0 > 5 (a third of the box) and a refused point for x1 > 13.5."""
    if x[1] > 13.5:
        raise NeurosimError("x1 > 13.5: refused by the protocol")
    return math.nan if x[0] > above else BRANIN.f(x)


@pytest.mark.parametrize("optimizer", ["random", "cma", "learned"])
def test_failed_trials_are_recorded_and_the_run_goes_on(tmp_path, monkeypatch, optimizer):
    _patched_branin(monkeypatch, _diverging)
    ds = tune("tune_branin", PARAMS, metric="value", optimizer=optimizer, budget=20,
              out_dir=tmp_path, progress=False, seed=1)  # fmt: skip
    assert ds.sizes["trial"] == 20
    x = ds.params.values
    nonfinite = (x[:, 0] > 5) & (x[:, 1] <= 13.5)
    refused = x[:, 1] > 13.5
    assert nonfinite.any() or refused.any()
    expected = np.where(refused, "error", np.where(nonfinite, "nonfinite", "ok"))
    assert list(ds.status.values) == list(expected)
    assert np.all(np.isnan(ds.metric.values[~(expected == "ok")]))
    assert all("refused by the protocol" in m for m in ds.message.values[refused])
    ok = expected == "ok"
    assert float(ds.best_metric) == float(ds.metric.values[ok].min())
    assert float(ds.params.values[int(ds.best_metric.attrs["trial"])][0]) <= 5
    # the file on disk is the returned record
    assert list(xr.load_dataset(tmp_path / "tune.nc").status.values) == list(expected)


def test_failed_trials_are_told_the_worst_value_so_far(tmp_path, monkeypatch):
    told = []
    original = tune_module.make_optimizer

    def spy(*args, **kwargs):
        opt = original(*args, **kwargs)
        real_tell = opt.tell

        def tell(x, y):
            told.append((id(opt), float(y)))
            real_tell(x, y)

        opt.tell = tell
        return opt

    monkeypatch.setattr(tune_module, "make_optimizer", spy)
    _patched_branin(monkeypatch, _diverging)
    ds = tune("tune_branin", PARAMS, metric="value", optimizer="random", budget=12,
              out_dir=tmp_path, progress=False, seed=1)  # fmt: skip
    last = told[-1][0]
    values = [y for opt, y in told if opt == last]  # what the final optimizer was told
    assert len(values) == 12
    worst = float(np.nanmax(ds.metric.values))
    expected = np.where(ds.status.values == "ok", ds.metric.values, worst)
    np.testing.assert_allclose(values, expected)


def test_a_run_whose_first_trials_all_fail_stops(tmp_path, capsys, monkeypatch):
    _patched_branin(monkeypatch, lambda x: math.nan)
    args = ["tune", "tune_branin", "--param", "training.x.0=-5:10", "--metric", "value",
            "--budget", "50", "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "the first 5 trials all failed (last: value = nan)" in err and "tune.nc" in err
    ds = xr.load_dataset(tmp_path / "tune.nc")
    assert ds.sizes["trial"] == 5 and set(ds.status.values) == {"nonfinite"}
    assert math.isnan(float(ds.best_metric))


@pytest.mark.parametrize("optimizer", ["random", "cma", "learned"])
def test_a_killed_run_resumes_to_the_uninterrupted_trials(tmp_path, monkeypatch, optimizer):
    # NaN on half of the box, so that failures come early for every optimizer
    _patched_branin(monkeypatch, lambda x: _diverging(x, above=2.5))
    kwargs = {"metric": "value", "optimizer": optimizer, "budget": 10, "progress": False}
    full = tune("tune_branin", PARAMS, out_dir=tmp_path / "full", seed=1, **kwargs)
    real_run = tune_module.run_protocol
    runs = []

    def killed_in_trial_4(*args, **kwargs):
        runs.append(args)
        if len(runs) > 4:  # trials 0-3 end, trial 4 is killed
            raise KeyboardInterrupt
        return real_run(*args, **kwargs)

    monkeypatch.setattr(tune_module, "run_protocol", killed_in_trial_4)
    with pytest.raises(KeyboardInterrupt):
        tune("tune_branin", PARAMS, out_dir=tmp_path / "cut", seed=1, **kwargs)
    monkeypatch.setattr(tune_module, "run_protocol", real_run)
    assert xr.load_dataset(tmp_path / "cut" / "tune.nc").sizes["trial"] == 4
    resumed = tune("tune_branin", PARAMS, out_dir=tmp_path / "cut", seed=1, resume=True, **kwargs)
    np.testing.assert_array_equal(resumed.params.values, full.params.values)
    assert list(resumed.status.values) == list(full.status.values)
    # the replay covered failures told as penalties
    assert set(full.status.values) - {"ok"}


def test_resume_refuses_another_setup_or_a_broken_file(tmp_path, capsys):
    args = ["tune", "tune_branin", "--param", "training.x.0=-5:10", "--metric", "value",
            "--optimizer", "random", "--budget", "2", "--out", str(tmp_path),
            "--quiet"]  # fmt: skip
    assert main(args) == 0
    other = [*args[:3], "training.x.1=0:15", *args[4:], "--resume"]
    assert main(other) == 2
    assert "tunes training.x.0 [1], not training.x.1 [1]" in capsys.readouterr().err
    (tmp_path / "tune.nc").write_bytes(b"garbage")
    assert main([*args, "--resume"]) == 2
    assert "tune.nc is truncated or not a" in capsys.readouterr().err
    (tmp_path / "tune.nc").unlink()
    assert main([*args, "--resume"]) == 2
    assert capsys.readouterr().err == (
        f"neurosim: error: {tmp_path / 'tune.nc'}: no checkpoint to resume from "
        "(run without --resume to start afresh)\n"
    )


def test_tune_help_states_where_the_output_goes(capsys):
    with pytest.raises(SystemExit):
        main(["tune", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default results/tune" in text and "OUT/tune.nc" in text
    assert "stimuli.0.amplitude=0:100pA" in text


def test_auto_picks_the_benchmarks_choice_for_the_dimension(tmp_path):
    """--optimizer auto (the default): the learned optimizer for 1-6 settings, CMA-ES else."""
    from neurosim.blackbox.tune import AUTO_OPTIMIZER, auto_optimizer

    ds = tune("tune_branin", PARAMS, metric="value", budget=4, out_dir=tmp_path / "two",
              progress=False)  # fmt: skip
    assert ds.attrs["optimizer"] == "learned" == auto_optimizer(2)
    one = [parse_param("training.x.0=-5:10")]
    ds = tune("tune_branin", one, metric="value", budget=4, out_dir=tmp_path / "one",
              overrides=["training.x=[1.0, 2.0]"], progress=False)  # fmt: skip
    assert ds.attrs["optimizer"] == "learned" == auto_optimizer(1)
    # beyond the learned optimizer's training horizon CMA-ES takes over
    assert auto_optimizer(2, budget=100) == "learned" and auto_optimizer(2, budget=101) == "cma"
    assert auto_optimizer(7) == "cma" and 7 not in AUTO_OPTIMIZER
    # every dimension auto names ships the weights the benchmark measured: the
    # mixture network in 1-2 d, the gated one in 3-6 d
    from neurosim.blackbox.learned import load_pretrained

    assert [type(load_pretrained(d)).arch for d in sorted(AUTO_OPTIMIZER)] == (
        ["mixture"] * 2 + ["gated"] * 4
    )
