"""Feedback alignment in a linear network (Lillicrap, Cownden, Tweed & Akerman 2016).

A two-layer linear network ``h = W1 x``, ``y = W2 h`` learns a target map
``y* = T x`` online, one example per step, by stochastic gradient descent on
``L = ||e||^2 / 2`` with the output error ``e = y* - y``. ``y*`` is the target
the network is taught with; :mod:`neurosim.networks.linear_fa` makes it a noisy
observation ``T x + sigma eta``, so ``e`` here is the noisy teaching error:

Output layer (all variants)
    ``W2 += eta * e h^T``

Hidden layer
    ``W1 += eta * delta x^T`` with the hidden teaching signal

    - backprop: ``delta = W2^T e`` (the gradient; needs the transpose of the
      forward weights at the hidden layer),
    - feedback alignment: ``delta = B e`` with a fixed random ``B`` (n_hidden x
      n_output) that never learns,
    - shallow: ``delta = 0`` (only the output layer learns).

Both layers use the pre-update weights of the same example (``delta`` is
computed before ``W2`` changes), so one step is exactly one SGD step of the
chosen rule.

Diagnostics of one step (the network records them every step):

- normalised squared error ``||y*_clean - y||^2 / ||y*_clean||^2``, measured
  against the noise-free target (the network module records it);
- update angle: the angle between the hidden update actually applied,
  ``eta delta x^T``, and the one backprop would apply, ``eta W2^T e x^T``.
  Both are outer products with the same ``x``, so their Frobenius angle is the
  angle between ``delta`` and ``W2^T e``; it is 0 for backprop and undefined
  (NaN) for shallow learning, which applies no hidden update;
- weight angle: the Frobenius angle between ``W2`` and ``B^T``; feedback
  alignment drives it below 90 degrees ("the forward weights come to align
  with the feedback weights").

The rule is the :class:`~neurosim.plasticity.rule.PlasticityRule`
:data:`FEEDBACK_ALIGNMENT`. Its Brian2 code is what
:mod:`neurosim.networks.linear_fa` runs: summed synaptic variables make the
forward and the backward pass and synaptic ``run_regularly`` statements apply
the updates, so a whole training run is one Brian2 ``run()``. Roles:
``hidden_synapses`` and ``feedback_synapses`` (synapse equations),
``signal_<variant>`` (the hidden group's ``delta`` for each of
:data:`VARIANTS`), ``hidden_update`` and ``output_update``. Its one parameter
is the learning rate ``eta``. :func:`init_state` and :func:`step` are the same
rule in numpy, the reference.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neurosim.plasticity.rule import CheckResult, PlasticityRule, numpy_target

__all__ = [
    "FEEDBACK_ALIGNMENT",
    "FEEDBACK_SYNAPSE_EQS",
    "HIDDEN_SIGNAL",
    "HIDDEN_SYNAPSE_EQS",
    "HIDDEN_UPDATE_CODE",
    "OUTPUT_UPDATE_CODE",
    "VARIANTS",
    "FAState",
    "FAStep",
    "init_state",
    "step",
]

#: The variants of hidden-layer learning.
VARIANTS = ("backprop", "feedback_alignment", "shallow")

#: Input -> hidden synapses: forward weights W1 and the forward pass ``h = W1 x``.
HIDDEN_SYNAPSE_EQS = """
w : 1
h_post = w * x_pre : 1 (summed)
"""

#: Hidden -> output synapses. Synapse (j -> k) holds ``W2[k, j]`` (``w``) and
#: ``B[j, k]`` (``B``, constant: Brian2 refuses any statement that writes it),
#: so the same object carries the forward pass ``y = W2 h`` to the output and
#: both backward passes, ``B e`` and ``W2^T e``, to the hidden layer (summed
#: variables that target the presynaptic group). ``wB`` and ``ww`` give the
#: weight angle between ``W2`` and ``B^T``.
FEEDBACK_SYNAPSE_EQS = """
w : 1
B : 1 (constant)
y_post = w * h_pre : 1 (summed)
delta_fa_pre = B * err_post : 1 (summed)
delta_bp_pre = w * err_post : 1 (summed)
wB_post = w * B : 1 (summed)
ww_post = w * w : 1 (summed)
"""

#: The hidden teaching signal ``delta`` of each variant, as an expression of
#: the hidden group's variables.
HIDDEN_SIGNAL = {"backprop": "delta_bp", "feedback_alignment": "delta_fa", "shallow": "0.0"}

#: Hidden-layer update, run by the input -> hidden synapses once per step.
HIDDEN_UPDATE_CODE = "w += eta * delta_post * x_pre"

#: Output-layer update, run by the hidden -> output synapses once per step.
OUTPUT_UPDATE_CODE = "w += eta * err_post * h_pre"


class FAState(NamedTuple):
    """Weights of the linear network (numpy reference)."""

    W1: np.ndarray
    """Input -> hidden weights, (n_hidden, n_input)."""
    W2: np.ndarray
    """Hidden -> output weights, (n_output, n_hidden)."""
    B: np.ndarray
    """Fixed feedback weights, (n_hidden, n_output)."""


class FAStep(NamedTuple):
    """What one step computed (before the update)."""

    error: np.ndarray
    """Output error ``e = y* - y``, (n_output,)."""
    delta: np.ndarray
    """Hidden teaching signal actually applied, (n_hidden,)."""
    delta_bp: np.ndarray
    """Hidden teaching signal of backprop, ``W2^T e``, (n_hidden,)."""
    output: np.ndarray
    """Network output ``y = W2 W1 x``, (n_output,); with a noisy ``y_target``
    the noise-free error is ``clean_target - output``."""


def init_state(
    rng: np.random.Generator,
    sizes: tuple[int, int, int],
    weight_scale: float,
    feedback_scale: float,
) -> FAState:
    """Draw initial forward weights ``U(-weight_scale, weight_scale)`` and ``B``.

    ``B`` is drawn from ``U(-feedback_scale, feedback_scale)``. The draws are
    made in the order W1, W2, B.
    """
    n_in, n_hid, n_out = sizes
    W1 = rng.uniform(-weight_scale, weight_scale, (n_hid, n_in))
    W2 = rng.uniform(-weight_scale, weight_scale, (n_out, n_hid))
    B = rng.uniform(-feedback_scale, feedback_scale, (n_hid, n_out))
    return FAState(W1, W2, B)


def step(
    state: FAState, x: np.ndarray, y_target: np.ndarray, *, variant: str, learning_rate: float
) -> tuple[FAState, FAStep]:
    """One online SGD step of ``variant`` on example ``(x, y_target)`` (numpy reference).

    Parameters
    ----------
    state : FAState
        Weights before the step.
    x, y_target : numpy.ndarray
        Input (n_input,) and the target output the network learns from
        (n_output,): with observation noise, the noisy one (``T x + noise``).
    variant : {"backprop", "feedback_alignment", "shallow"}
        How the error reaches the hidden layer.
    learning_rate : float
        ``eta`` of both layers.

    Returns
    -------
    (FAState, FAStep)
        The weights after the step and the signals it used.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant has to be one of {VARIANTS}, got {variant!r}")
    W1, W2, B = state
    h = W1 @ x
    y = W2 @ h
    e = y_target - y
    delta_bp = W2.T @ e
    delta = {"backprop": delta_bp, "feedback_alignment": B @ e, "shallow": np.zeros_like(h)}[
        variant
    ]
    new = FAState(W1 + learning_rate * np.outer(delta, x), W2 + learning_rate * np.outer(e, h), B)
    return new, FAStep(e, delta, delta_bp, y)


def _check(rule: PlasticityRule, rng: np.random.Generator) -> CheckResult:
    """A few steps of every variant in a 3-4-2 network: Brian2's weights and :func:`step`'s.

    The network is :mod:`neurosim.networks.linear_fa`'s without its
    diagnostics and noise: the teaching target is drawn directly.
    """
    import brian2 as b2

    sizes, steps, dt = (3, 4, 2), 3, 1 * b2.ms
    # a rate large enough that the updates are far above rounding
    eta = rule.parameters["eta"] * rng.uniform(5.0, 20.0)
    start = init_state(rng, sizes, 0.5, 0.5)
    inputs = rng.normal(0.0, 1.0, (steps, sizes[0]))
    targets = rng.normal(0.0, 1.0, (steps, sizes[2]))
    got, want = {}, {}
    with numpy_target():
        for variant in VARIANTS:
            W1, W2 = _run_check_network(rule, variant, start, inputs, targets, eta, dt)
            got |= {f"{variant}.W1": W1, f"{variant}.W2": W2}
    for variant in VARIANTS:
        state = start
        for x, y in zip(inputs, targets, strict=True):
            state, _ = rule.reference(state, x, y, variant=variant, learning_rate=eta)
        want |= {f"{variant}.W1": state.W1, f"{variant}.W2": state.W2}
    return got, want


def _run_check_network(rule, variant, start, inputs, targets, eta, dt):
    """Build and run one variant's check network; the final (W1, W2)."""
    import brian2 as b2

    (n_hid, n_in), n_out = start.W1.shape, start.W2.shape[0]
    namespace = rule.namespace({"eta": eta})
    x = b2.NeuronGroup(n_in, "x : 1", dt=dt)
    x.run_regularly("x = check_x(t, i)", when="start")
    x.namespace["check_x"] = b2.TimedArray(inputs, dt=dt)
    hid = b2.NeuronGroup(
        n_hid,
        f"h : 1\ndelta_fa : 1\ndelta_bp : 1\ndelta = {rule.code['signal_' + variant]} : 1",
        dt=dt,
    )
    out = b2.NeuronGroup(
        n_out, "y : 1\ny_target : 1\nerr = y_target - y : 1\nwB : 1\nww : 1", dt=dt
    )
    out.run_regularly("y_target = check_y(t, i)", when="start")
    out.namespace["check_y"] = b2.TimedArray(targets, dt=dt)
    s_hid = b2.Synapses(x, hid, rule.code["hidden_synapses"], namespace=namespace, dt=dt)
    s_hid.connect()
    s_hid.w = start.W1[s_hid.j[:], s_hid.i[:]]
    s_out = b2.Synapses(hid, out, rule.code["feedback_synapses"], namespace=namespace, dt=dt)
    s_out.connect()
    s_out.w = start.W2[s_out.j[:], s_out.i[:]]
    s_out.B = start.B[s_out.i[:], s_out.j[:]]
    # forward, then backward (Brian2 would run each summed variable just
    # before its target group, in no chain)
    s_hid.summed_updaters["h_post"].order = 0
    s_out.summed_updaters["y_post"].order = 1
    for name in ("delta_fa_pre", "delta_bp_pre", "wB_post", "ww_post"):
        s_out.summed_updaters[name].order = 2
    s_out.run_regularly(rule.code["output_update"], when="synapses")
    s_hid.run_regularly(rule.code["hidden_update"], when="synapses")
    net = b2.Network(x, hid, out, s_hid, s_out)
    net.run(len(inputs) * dt, namespace={})
    W1, W2 = np.empty_like(start.W1), np.empty_like(start.W2)
    W1[s_hid.j[:], s_hid.i[:]] = s_hid.w[:]
    W2[s_out.j[:], s_out.i[:]] = s_out.w[:]
    return W1, W2


#: The rule: one object for the three variants (the network picks the
#: hidden signal by variant; the check runs all three).
FEEDBACK_ALIGNMENT = PlasticityRule(
    name="feedback_alignment",
    code={
        "hidden_synapses": HIDDEN_SYNAPSE_EQS,
        "feedback_synapses": FEEDBACK_SYNAPSE_EQS,
        **{f"signal_{variant}": signal for variant, signal in HIDDEN_SIGNAL.items()},
        "hidden_update": HIDDEN_UPDATE_CODE,
        "output_update": OUTPUT_UPDATE_CODE,
    },
    # neurosim.networks.linear_fa's default learning rate
    parameters={"eta": 0.005},
    reference=step,
    harness=_check,
)
