"""Learned black-box optimization: GP sampler, training, ask/tell, neurosim tune."""

import numpy as np
import pytest
import torch
import xarray as xr

from neurosim.blackbox.asktell import make_optimizer
from neurosim.blackbox.functions import FUNCTIONS
from neurosim.blackbox.gp import evaluate, sample_gp_functions, se_kernel
from neurosim.blackbox.learned import (
    TrainConfig,
    export_weights,
    load_pretrained,
    pretrained_path,
    train_optimizer,
)
from neurosim.cli import main
from neurosim.errors import NeurosimError


def test_gp_samples_have_the_kernel_as_covariance():
    # 20,000 functions with one fixed length scale, at 5 points in 3-d.
    n, dim, ell = 20_000, 3, 0.7
    gen = torch.Generator().manual_seed(0)
    funcs = sample_gp_functions(n, dim, n_features=200, lengthscale=(ell, ell), generator=gen,
                                dtype=torch.float64)  # fmt: skip
    ell_eff = float(funcs.lengthscale[0])
    points = torch.rand(5, dim, generator=gen, dtype=torch.float64) * 2 - 1
    values = evaluate(funcs, points.expand(n, 5, dim))  # (n, 5)
    empirical = torch.cov(values.T)
    kernel = se_kernel(points, points, ell_eff)
    # Monte-Carlo error of a covariance estimate from n samples: ~sqrt(2/n) = 0.01.
    assert torch.allclose(empirical, kernel, atol=0.04)
    assert torch.allclose(values.mean(0), torch.zeros(5, dtype=torch.float64), atol=0.04)


def test_gp_samples_are_differentiable_in_x():
    funcs = sample_gp_functions(4, 2, generator=torch.Generator().manual_seed(1))
    x = torch.zeros(4, 2, requires_grad=True)
    evaluate(funcs, x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_benchmark_functions_have_their_known_minima():
    branin = FUNCTIONS["branin"]
    for x in ([-np.pi, 12.275], [np.pi, 2.275], [9.42478, 2.475]):
        assert branin.f(np.array(x)) == pytest.approx(branin.minimum, abs=1e-5)
    assert FUNCTIONS["goldstein_price"].f(np.array([0.0, -1.0])) == pytest.approx(3.0)
    h6 = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    assert FUNCTIONS["hartmann6"].f(np.array(h6)) == pytest.approx(-3.32237, abs=1e-4)
    h3 = [0.114614, 0.555649, 0.852547]
    assert FUNCTIONS["hartmann3"].f(np.array(h3)) == pytest.approx(-3.86278, abs=1e-4)


def test_short_training_lowers_the_loss(tmp_path):
    config = TrainConfig(dim=2, horizon=20, iterations=60, batch=32, hidden=16, loss="sum")
    _, losses = train_optimizer(config, tmp_path / "opt.pt")
    assert np.mean(losses[-15:]) < np.mean(losses[:15])
    state = torch.load(tmp_path / "opt.pt", weights_only=True)
    assert state["iteration"] == 60 and len(state["losses"]) == 60
    net = load_pretrained(2, tmp_path / "opt.pt")
    assert net.dim == 2
    with pytest.raises(NeurosimError, match="weights for dimension 2, asked for 3"):
        load_pretrained(3, tmp_path / "opt.pt")


def test_training_resumes_where_it_stopped(tmp_path):
    config = TrainConfig(dim=1, horizon=10, iterations=20, batch=8, hidden=8, loss="oi")
    _, full = train_optimizer(config)
    half = TrainConfig(**{**config.__dict__, "iterations": 10})
    train_optimizer(half, tmp_path / "o.pt")
    _, resumed = train_optimizer(config, tmp_path / "o.pt", resume=True)
    np.testing.assert_allclose(resumed, full, rtol=1e-5)


@pytest.mark.parametrize("name", ["random", "cma"])
def test_ask_tell_respects_bounds_and_rejects_nan(name):
    bounds = [(-5.0, 10.0), (0.0, 15.0)]
    opt = make_optimizer(name, bounds, seed=3)
    f = FUNCTIONS["branin"].f
    for _ in range(30):
        x = opt.ask()
        assert np.all(x >= [-5, 0]) and np.all(x <= [10, 15])
        opt.tell(x, f(x))
    x_best, y_best = opt.best
    assert y_best == min(opt.y) and f(x_best) == pytest.approx(y_best)
    with pytest.raises(NeurosimError, match="is nan; optimizers need finite values"):
        opt.tell(opt.ask(), float("nan"))
    with pytest.raises(NeurosimError, match="outside the bounds"):
        opt.tell([20.0, 1.0], 1.0)


def test_bad_bounds_are_a_clear_error():
    with pytest.raises(NeurosimError, match="finite low < high"):
        make_optimizer("random", [(1.0, 0.0)])
    with pytest.raises(NeurosimError, match="optimizer: has to be one of"):
        make_optimizer("sgd", [(0.0, 1.0)])


def test_tune_finds_the_optimum_of_a_synthetic_protocol(tmp_path, capsys):
    out = tmp_path / "tune"
    args = ["tune", "tune_branin", "--param", "training.x.0=-5:10", "--param",
            "training.x.1=0:15", "--metric", "value", "--optimizer", "cma", "--budget", "60",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    ds = xr.load_dataset(out / "tune.nc")
    assert ds.sizes["trial"] == 60
    assert float(ds.best_metric) < 0.397887 + 0.05
    assert np.all((ds.params.values >= ds.low.values) & (ds.params.values <= ds.high.values))
    assert float(ds.best_metric) == float(ds.metric.min())
    # A second call with --resume has nothing left to do at the same budget.
    assert main([*args, "--resume"]) == 0
    assert xr.load_dataset(out / "tune.nc").sizes["trial"] == 60
    assert "best value" in capsys.readouterr().out


def test_tune_reports_unknown_metric(tmp_path, capsys):
    args = ["tune", "tune_branin", "--param", "training.x.0=-5:10", "--metric", "loss",
            "--optimizer", "random", "--budget", "2", "--out", str(tmp_path),
            "--quiet"]  # fmt: skip
    assert main(args) == 2
    assert "the recording has no variable 'loss'" in capsys.readouterr().err


def test_learned_optimizer_ask_tell_with_given_weights(tmp_path):
    config = TrainConfig(dim=2, horizon=10, iterations=5, batch=8, hidden=8)
    train_optimizer(config, tmp_path / "w.pt")
    opt = make_optimizer("learned", [(-5.0, 10.0), (0.0, 15.0)], seed=1, weights=tmp_path / "w.pt")
    f = FUNCTIONS["branin"].f
    asked = []
    for _ in range(15):
        x = opt.ask()
        assert np.all(x >= [-5, 0]) and np.all(x <= [10, 15])
        asked.append(x)
        opt.tell(x, f(x))
    # The network's proposals follow from what it was told: not a constant.
    assert len({tuple(np.round(x, 9)) for x in asked[1:]}) > 1
    with pytest.raises(NeurosimError, match="optimizers need finite values"):
        opt.tell(opt.ask(), float("inf"))
    with pytest.raises(NeurosimError, match="no learned-optimizer weights for dimension 5"):
        make_optimizer("learned", [(0.0, 1.0)] * 5, weights=tmp_path / "missing.pt")


@pytest.mark.parametrize("dim", range(1, 7))
def test_shipped_weights_load_safely_and_propose_in_bounds(dim):
    state = torch.load(pretrained_path(dim), weights_only=True)
    assert set(state) == {"net", "config", "iteration", "final_loss"}
    assert state["config"]["dim"] == dim and state["iteration"] > 0
    opt = make_optimizer("learned", [(-2.0, 3.0)] * dim, seed=dim)
    for _ in range(5):
        x = opt.ask()
        assert x.shape == (dim,) and np.all(x >= -2.0) and np.all(x <= 3.0)
        opt.tell(x, float(np.sum((x - 0.5) ** 2)))


def test_export_weights_drops_the_optimizer_state(tmp_path):
    config = TrainConfig(dim=1, horizon=5, iterations=3, batch=4, hidden=4)
    train_optimizer(config, tmp_path / "ck.pt")
    export_weights(tmp_path / "ck.pt", tmp_path / "w.pt")
    assert "optimizer" in torch.load(tmp_path / "ck.pt", weights_only=True)
    assert "optimizer" not in torch.load(tmp_path / "w.pt", weights_only=True)
    assert load_pretrained(1, tmp_path / "w.pt").hidden == 4


def test_training_stops_at_its_time_limit_with_a_checkpoint(tmp_path):
    config = TrainConfig(dim=2, horizon=5, iterations=1000, batch=4, hidden=4)
    _, losses = train_optimizer(config, tmp_path / "ck.pt", max_seconds=0.0)
    # The limit is checked after each iteration: one iteration, then a checkpoint.
    assert len(losses) == 1
    assert torch.load(tmp_path / "ck.pt", weights_only=True)["iteration"] == 1
