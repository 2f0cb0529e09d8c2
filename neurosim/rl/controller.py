r"""A trained actor as a Brian2 network of rate neurons, in closed loop with its body.

Each layer of the actor's :class:`~neurosim.rl.common.Controller` becomes a
``NeuronGroup`` of rate units and each weight matrix a ``Synapses`` object
whose summed variable is the layer's input current:

.. math::  I_j = \sum_i w_{ij} r_i, \qquad r_j = f(I_j + b_j)

with the actor's own weights, biases and activation ``f`` (rates are
dimensionless, as in the torch network). One Brian2 time step is one control
step of the environment (``dt`` = the environment's own time step):

1. ``start``: a network operation writes the observation into the input
   layer's rates;
2. ``groups``: the summed variables are updated layer by layer (each layer's
   group ``order`` puts its summed update after the layer below), and the
   rates, subexpressions of the currents, follow;
3. ``end``: the monitors record every unit, and a network operation reads the
   output layer, turns it into an action (argmax or scaled and clipped) and
   steps the environment. When the episode ends the run stops.

So the whole closed loop runs inside ``Network.run``; the recording has the
units' rates, the observations, the actions and the rewards on one time axis.
"""

from __future__ import annotations

import json
import re

import brian2 as b2
import numpy as np
import xarray as xr

from neurosim.errors import NeurosimError
from neurosim.memory import require_memory
from neurosim.recording import provenance, state_arrays
from neurosim.rl.common import Controller, make_env
from neurosim.schema import check_int, check_seed

__all__ = ["ACTIVATION_CODE", "build_network", "control_dt", "run_closed_loop"]

#: Brian2 expressions of the activations (``x`` is the input current plus bias).
ACTIVATION_CODE = {
    None: "x",
    "relu": "clip(x, 0, inf)",
    "tanh": "tanh(x)",
    "sigmoid": "1 / (1 + exp(-x))",
}


def control_dt(env) -> float:
    """The environment's control period in seconds (``dt``, or ``tau`` for CartPole)."""
    base = env.unwrapped
    for name in ("dt", "tau"):
        value = getattr(base, name, None)
        if value is not None:
            return float(value)
    return 0.02


def build_network(controller: Controller) -> tuple[list, list[b2.NeuronGroup]]:
    """Brian2 groups and synapses of ``controller``'s network.

    Returns
    -------
    objects : list
        Everything to add to a ``Network``.
    layers : list of NeuronGroup
        Input layer first; each has a rate ``r``.
    """
    layers_spec = controller.layers()
    n_in = layers_spec[0][0].in_features
    inputs = b2.NeuronGroup(n_in, "r : 1", name="observation_layer", order=0)
    objects: list = [inputs]
    layers = [inputs]
    for k, (linear, act) in enumerate(layers_spec, start=1):
        w = linear.weight.detach().double().numpy()
        bias = linear.bias.detach().double().numpy()
        last = k == len(layers_spec)
        name = "output_layer" if last else f"hidden_layer_{k}"
        # Whole-word substitution: the "x" in "exp" must stay.
        rate = re.sub(r"\bx\b", "(I_syn + b)", ACTIVATION_CODE[act])
        eqs = f"""
        I_syn : 1
        b : 1 (constant)
        r = {rate} : 1
        """
        # order 2k: the summed update into this layer (order 2k - 1) comes after
        # the layer below has its current for this step.
        group = b2.NeuronGroup(linear.out_features, eqs, name=name, order=2 * k)
        group.b = bias
        syn = b2.Synapses(
            layers[-1],
            group,
            "w : 1 (constant)\nI_syn_post = w * r_pre : 1 (summed)",
            name=f"weights_{k}",
        )
        n_pre, n_post = w.shape[1], w.shape[0]
        syn.connect(i=np.repeat(np.arange(n_pre), n_post), j=np.tile(np.arange(n_post), n_pre))
        syn.w = w.T.ravel()
        objects += [group, syn]
        layers.append(group)
    return objects, layers


def _check_memory(controller: Controller, env, steps: int, record: bool) -> None:
    """Refuse a run whose per-step trace and rate recordings cannot fit in memory."""
    n_act = int(np.prod(env.action_space.shape or (1,)))
    n_obs = int(np.prod(env.observation_space.shape))
    # float64 values; the Python lists of the trace cost ~4x their array
    parts = {"trace": 4 * 8.0 * steps * (n_obs + n_act + 2)}
    if record:
        units = n_obs + sum(layer.out_features for layer, _ in controller.layers())
        parts["rate recordings"] = 8.0 * steps * (units + 1)
    require_memory(parts, "rl-control", "run fewer --episodes", subject="the closed loop")


def run_closed_loop(
    controller: Controller,
    env_id: str,
    episodes: int = 1,
    seed: int = 0,
    *,
    max_steps: int | None = None,
    record: bool = True,
) -> xr.Dataset:
    """Run ``controller`` as a Brian2 rate network driving ``env_id``.

    Parameters
    ----------
    controller : Controller
        The trained actor (e.g. ``neurosim.rl.ddpg.load_controller(path)``).
    env_id : str
        Gymnasium environment id.
    episodes : int
        Episodes; episode ``k`` resets the environment with seed ``seed + k``
        (as :func:`neurosim.rl.common.evaluate` does for the torch actor).
    max_steps : int, optional
        Cap on steps per episode (default: the environment's time limit).
    record : bool
        Record every unit's rate (off: returns only).

    Returns
    -------
    xr.Dataset
        ``episode_return`` (episode); per control step (``step`` dimension)
        ``observation`` (step, obs_dim), ``action``, ``reward`` and
        ``step_episode``; with ``record``, ``{layer}_r`` (``{layer}_time``,
        ``{layer}_neuron``) for every layer. Attributes: provenance, the
        environment, ``dt`` and the network's layer sizes.
    """
    episodes = check_int(episodes, "episodes", 1)
    # episode k is seeded seed + k, so the last seed has to be valid too
    check_seed(seed, "seed")
    check_seed(seed + episodes - 1, f"seed + episodes - 1 (seed {seed}, {episodes} episodes)")
    env = make_env(env_id)
    n_obs = int(np.prod(env.observation_space.shape))
    n_in = controller.layers()[0][0].in_features
    if n_obs != n_in:
        raise NeurosimError(f"controller: takes {n_in} inputs, {env_id} gives {n_obs} observations")
    limit = max_steps or getattr(env.spec, "max_episode_steps", None) or 1000
    _check_memory(controller, env, episodes * limit, record)
    dt = control_dt(env)
    b2.start_scope()
    # numpy code: the layers are small and a cython build would cost more
    # than the whole run.
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = dt * b2.second
    objects, layers = build_network(controller)
    net = b2.Network(*objects)
    loop = {"obs": None, "done": False, "ret": 0.0, "steps": 0, "episode": 0}
    trace: dict[str, list] = {"observation": [], "action": [], "reward": [], "episode": []}

    @b2.network_operation(when="start", name="observe")
    def observe():
        layers[0].r = np.asarray(loop["obs"], float).ravel()

    @b2.network_operation(when="end", order=10, name="act")
    def act():
        if loop["done"]:
            return
        action = controller.action(np.asarray(layers[-1].r[:], float))
        trace["observation"].append(np.asarray(loop["obs"], float).ravel())
        obs, reward, terminated, truncated, _ = env.step(action)
        trace["action"].append(np.atleast_1d(np.asarray(action, float)))
        trace["reward"].append(float(reward))
        trace["episode"].append(loop["episode"])
        loop["obs"] = obs
        loop["ret"] += float(reward)
        loop["steps"] += 1
        if terminated or truncated or loop["steps"] >= limit:
            loop["done"] = True
            net.stop()

    net.add(observe, act)
    monitors = []
    if record:
        for group in layers:
            mon = b2.StateMonitor(group, "r", record=True, when="end", name=f"{group.name}_rates")
            monitors.append(mon)
        net.add(*monitors)
    returns = np.empty(episodes)
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        loop.update(obs=obs, done=False, ret=0.0, steps=0, episode=k)
        # One extra step of slack: the run stops from inside at the episode's end.
        net.run((limit + 1) * dt * b2.second, namespace={})
        returns[k] = loop["ret"]
    env.close()
    ds = xr.Dataset(
        {
            "episode_return": ("episode", returns, {"units": "1"}),
            "observation": (("step", "obs_dim"), np.array(trace["observation"]), {"units": "1"}),
            "action": (("step", "action_dim"), np.array(trace["action"]), {"units": "1"}),
            "reward": ("step", np.array(trace["reward"]), {"units": "1"}),
            "step_episode": ("step", np.array(trace["episode"], np.int64), {"units": "1"}),
        }
    )
    for group, mon in zip(layers, monitors, strict=False):
        # net.stop() ends the run after the step that ended the episode, so
        # the monitor holds exactly one sample per control step.
        assert len(mon.t) == len(trace["reward"])
        ds = ds.assign(state_arrays(group.name, mon, ["r"]))
    ds.attrs.update(
        provenance(
            env_id=env_id,
            seed=seed,
            dt=dt,
            layer_sizes=json.dumps([int(g.N) for g in layers]),
            activations=json.dumps([a or "linear" for _, a in controller.layers()]),
            controller_kind=controller.kind,
        )
    )
    return ds
