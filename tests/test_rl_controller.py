"""The Brian2 rate-network controller against its torch actor; analysis of its recording."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from neurosim.errors import NeurosimError
from neurosim.rl.analysis import (
    plot_activity,
    plot_pca,
    plot_tuning,
    population_pca,
    tuning_correlation,
    tuning_curves,
)
from neurosim.rl.common import ACTIVATIONS, Controller, evaluate, load_controller, mlp
from neurosim.rl.controller import run_closed_loop


def _pendulum_controller(seed: int) -> Controller:
    torch.manual_seed(seed)
    one = np.ones(1)
    return Controller(mlp([3, 32, 16, 1], "relu", "tanh"), "continuous",
                      scale=2 * one, offset=0 * one, low=-2 * one, high=2 * one)  # fmt: skip


def test_brian2_controller_matches_torch_returns_and_activations(tmp_path):
    ctl = _pendulum_controller(0)
    ds = run_closed_loop(ctl, "Pendulum-v1", episodes=2, seed=3)
    torch_returns = evaluate(ctl, "Pendulum-v1", 2, 3)
    # float32 torch vs float64 Brian2 over 200 steps of a smooth system
    np.testing.assert_allclose(ds.episode_return.values, torch_returns, rtol=1e-5)
    assert ds.sizes["step"] == 400 and ds.hidden_layer_1_r.shape == (400, 32)
    with torch.no_grad():
        hidden = ctl.net[:2](torch.tensor(ds.observation.values, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(ds.hidden_layer_1_r.values, hidden, atol=1e-4)
    assert ds.attrs["env_id"] == "Pendulum-v1" and "brian2_version" in ds.attrs
    for plot in (plot_activity, plot_pca, plot_tuning):
        assert plot(ds, tmp_path / f"{plot.__name__}.png").stat().st_size > 1000
    _check_figures(ds, tmp_path)


def _check_figures(ds, tmp_path):
    """Issue 18: observation rows named from the environment, colourbars, episodes marked."""
    from figure_checks import problems

    import neurosim.rl.analysis as analysis

    figures = []
    real_save = analysis.save_figure

    def keep(fig, path):
        figures.append(fig)
        return real_save(fig, path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(analysis, "save_figure", keep)
        plot_activity(ds, tmp_path / "a.png")
        plot_tuning(ds, tmp_path / "t.png")
        plot_pca(ds, tmp_path / "p.png")
    activity, tuning, _ = figures
    for fig in figures:  # a title in words, axis labels with units, colourbars
        assert problems(fig) == []
    names = ["cos theta", "sin theta", "angular velocity"]
    first = activity.axes[0]
    assert [t.get_text() for t in first.get_yticklabels()] == names
    # one colourbar per layer image (inset axes), labelled
    images = [ax for ax in activity.axes if ax.images]
    assert len(images) == len(analysis.layer_names(ds)) and all(ax.child_axes for ax in images)
    assert all(ax.child_axes[0].get_ylabel() == "rate (dimensionless)" for ax in images)
    # the second episode's start, at step 200 of 0.05 s (Pendulum's dt)
    starts = {line.get_xdata()[0] for line in first.lines}
    assert starts == {200 * ds.attrs["dt"]}
    assert "Pendulum-v1" in activity._suptitle.get_text()
    main_ax = tuning.axes[0]
    assert [t.get_text() for t in main_ax.get_xticklabels()] == names
    assert "Pendulum-v1" in main_ax.get_title() and len(tuning.axes) == 2  # + colourbar


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_gives_the_torch_rates_in_every_layer(activation):
    # Hidden and output layers both use `activation`; each layer's Brian2 rates
    # are compared with torch's activations on the observations the loop saw.
    torch.manual_seed(2)
    one = np.ones(1)
    net = mlp([3, 8, 8, 1], activation, activation)
    with torch.no_grad():
        for linear in net[::2]:
            # Weights large enough that every unit's input spans the
            # activation's nonlinear range (where a wrong sign would show).
            linear.weight.mul_(3.0)
    ctl = Controller(net, "continuous", scale=2 * one, offset=0 * one, low=-2 * one, high=2 * one)
    ds = run_closed_loop(ctl, "Pendulum-v1", episodes=1, seed=5, max_steps=20)
    assert ds.sizes["step"] == 20
    x = torch.tensor(ds.observation.values, dtype=torch.float32)
    names = ["hidden_layer_1", "hidden_layer_2", "output_layer"]
    with torch.no_grad():
        for k, name in enumerate(names):
            expected = net[: 2 * k + 2](x).numpy()
            np.testing.assert_allclose(ds[f"{name}_r"].values, expected, atol=1e-5, err_msg=name)
    # The actions sent to the environment are the torch actor's.
    actions = np.array([ctl(o) for o in ds.observation.values.astype(np.float32)])
    np.testing.assert_allclose(ds.action.values, actions, atol=1e-5)
    assert json.loads(ds.attrs["activations"]) == [activation] * 3


def test_discrete_controller_and_bad_inputs(tmp_path):
    torch.manual_seed(1)
    ctl = Controller(mlp([4, 16, 2], "tanh"), "discrete")
    ds = run_closed_loop(ctl, "CartPole-v1", episodes=3, seed=0, record=False)
    np.testing.assert_array_equal(ds.episode_return.values, evaluate(ctl, "CartPole-v1", 3, 0))
    assert "output_layer_r" not in ds
    with pytest.raises(NeurosimError, match="takes 4 inputs, Pendulum-v1 gives 3"):
        run_closed_loop(ctl, "Pendulum-v1")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(NeurosimError, match=r"junk\.pt is truncated or not a neurosim checkpoint"):
        load_controller(tmp_path / "junk.pt")
    with pytest.raises(NeurosimError, match="Controller: layers have to be"):
        Controller(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Softmax(-1)), "discrete")


def _toy_recording() -> xr.Dataset:
    t = np.linspace(0, 2 * np.pi, 200)
    obs = np.stack([np.sin(t), np.cos(t)], 1)
    r = np.stack([2 * obs[:, 0] + 1, -obs[:, 1], np.zeros_like(t)], 1)
    return xr.Dataset(
        {
            "observation": (("step", "obs_dim"), obs),
            "hidden_layer_1_r": (("time", "neuron"), r),
            "step_episode": ("step", np.zeros(200, int)),
        }
    )


def test_tuning_and_pca_on_hand_made_activity():
    ds = _toy_recording()
    corr = tuning_correlation(ds, "hidden_layer_1").values
    np.testing.assert_allclose(corr[:2], [[1.0, 0.0], [0.0, -1.0]], atol=1e-12)
    assert np.isnan(corr[2]).all()  # a silent unit has no tuning
    curves = tuning_curves(ds, "hidden_layer_1", obs_dim=0, bins=4)
    # unit 0 is 2 sin + 1: its bin means follow the bin centres exactly
    np.testing.assert_allclose(
        curves.values[0], 2 * _bin_means(ds.observation.values[:, 0], 4) + 1, atol=1e-12
    )
    assert np.all(np.diff(curves.bin_center.values) > 0)
    pca = population_pca(ds, "hidden_layer_1", 3)
    ev = pca.explained_variance_ratio.values
    # var(2 sin) = 4 var(cos): 80 % and 20 % of the variance, nothing in the third
    np.testing.assert_allclose(ev, [0.8, 0.2, 0.0], atol=0.01)
    with pytest.raises(NeurosimError, match="no rates recorded for 'nope'"):
        tuning_correlation(ds, "nope")


def _bin_means(x: np.ndarray, bins: int) -> np.ndarray:
    edges = np.quantile(x, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    return np.array([x[which == k].mean() for k in range(bins)])


def test_shipped_trained_policy_runs_as_brian2_network_with_the_same_return():
    # data/rl/cartpole_a3c.pt: the actor of `neurosim rl-train a3c --env CartPole-v1
    # --seed 0` (greedy mean 498.7 over 100 evaluation episodes).
    ctl, config = load_controller(Path(__file__).parents[1] / "data" / "rl" / "cartpole_a3c.pt")
    assert config["env_id"] == "CartPole-v1"
    ds = run_closed_loop(ctl, "CartPole-v1", episodes=3, seed=100)
    torch_returns = evaluate(ctl, "CartPole-v1", 3, 100)
    np.testing.assert_array_equal(ds.episode_return.values, torch_returns)
    assert torch_returns.mean() >= 475  # a trained policy, not a random one
    # The discrete action is the argmax of the output layer's rates at every step.
    out = ds.output_layer_r.values
    np.testing.assert_array_equal(ds.action.values[:, 0], out.argmax(1))


@pytest.mark.parametrize(
    ("episodes", "seed", "message"),
    [
        (0, 0, "episodes: expected an integer >= 1, got 0"),
        (1, -1, r"seed: expected an integer in 0..4294967295, got -1"),
        # episode k is seeded seed + k: the last one must be a valid seed too
        (2, 2**32 - 1, r"seed \+ episodes - 1 \(seed 4294967295, 2 episodes\)"),
        # the trace and the rate recordings grow with every step: refused up front
        (10**9, 0, r"rl-control: the closed loop needs about .* of memory \(trace"),
    ],
)
def test_closed_loop_refuses_bad_episodes_and_seeds(episodes, seed, message):
    with pytest.raises(NeurosimError, match=message):
        run_closed_loop(_pendulum_controller(0), "Pendulum-v1", episodes=episodes, seed=seed)
