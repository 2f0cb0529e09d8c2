"""Segregated-dendrite learning rule (Guerguiev, Lillicrap & Richards 2017, eLife).

Each training example has a forward phase and a target phase. At the end of
each phase a neuron averages its variables over the phase's integration window
(the last ``integration_steps`` steps). At the end of the target phase every
layer updates its feedforward weights and biases with purely local signals:

Hidden layer (plateau potentials of the apical dendrite)
    ``alpha_p = sigma(mean A over the window of phase p)``, p in {f, t}

    ``delta = eta * P_h * k_B * (alpha_t - alpha_f) * phi'(Cbar_f)``

Output layer (somatic rates)
    ``delta = eta * P_f * k_D * (phibar_t - phi(Cbar_f)) * phi'(Cbar_f)``

Both layers then apply ``W += delta PSPbar_f^T`` and ``b += delta``, where
``PSPbar_f`` is the forward-phase window average of the presynaptic PSPs,
``phi(C) = lambda_max sigma(C)`` and ``phi'(C) = lambda_max sigma(C)(1 - sigma(C))``.
This is the paper's ``W += -eta P E PSPbar_f^T`` with its error terms
``E = -(alpha_t - alpha_f) k_B phi'(Cbar_f)`` and
``E = -(phibar_t - phi(Cbar_f)) k_D phi'(Cbar_f)``.

The rule is two :class:`~neurosim.plasticity.rule.PlasticityRule` s,
:data:`SEGREGATED_HIDDEN` and :data:`SEGREGATED_OUTPUT`. Their Brian2 code is
what :mod:`neurosim.networks.segregated` runs (generated code, so the rule
executes inside a single ``run()`` in runtime and standalone modes); roles:

``end``
    the layer's phase-end code (every phase's last step): window averages,
    plateaus, ``delta`` and the bias change (a hidden layer's also averages
    its own PSP, for the synapses to the layer above). The network provides the phase
    flags ``f_end`` / ``t_end`` (1 at the end of a forward / target phase),
    ``inv_n`` (1 / the window's length in steps) and the window sums
    (``C_sum``, ``A_sum``, ``psp_sum``, ``phi_sum``), which it clears after.
``input_end`` (hidden)
    the input group's phase-end code (its forward-phase PSP average).
``learn_input`` (hidden), ``learn``, ``learn_same_step``
    the ``learn`` pathway of the synapses into the layer, once per example
    at the end of the target phase: from the input group (whose traces the
    network corrects itself), and from a layer whose spikes arrive one step
    late or in the step they are drawn.
``learn_symmetric``, ``backprop_probe`` (output)
    extra ``learn`` code of the symmetric-feedback control and of the
    backprop-angle probe.

Parameters: ``eta`` (the layer's learning rate), ``p_hidden_factor`` /
``p_final_factor``, ``lambda_max`` and the conductances; derived: ``P_h`` or
``P_f``, ``k_B`` or ``k_D`` and their product with ``eta``, ``eta_P_k``, which
the code reads. :func:`hidden_update` and :func:`output_update` are the same
rule in numpy, for one example, the references.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from neurosim.plasticity.rule import CheckResult, PlasticityRule, numpy_target

__all__ = [
    "BACKPROP_PROBE_CODE",
    "HIDDEN_AVERAGE_CODE",
    "HIDDEN_DELTA_CODE",
    "OUTPUT_AVERAGE_CODE",
    "OUTPUT_DELTA_CODE",
    "PSP_AVERAGE_CODE",
    "SEGREGATED_HIDDEN",
    "SEGREGATED_OUTPUT",
    "SYMMETRIC_LEARN_CODE",
    "SYNAPSE_LEARN_CODE",
    "SYNAPSE_LEARN_CODE_SAME_STEP",
    "LayerUpdate",
    "hidden_update",
    "output_update",
]

#: Forward-phase window average of a group's PSP, ``psp_f``: what the synapses
#: out of the group multiply ``delta`` with.
PSP_AVERAGE_CODE = """
psp_f = f_end * psp_sum * inv_n + (1 - f_end) * psp_f
"""

#: Window averages of a hidden layer at a phase end: the forward-phase somatic
#: potential ``C_f`` and the plateau potentials ``alpha_f``, ``alpha_t``.
HIDDEN_AVERAGE_CODE = """
C_avg = C_sum * inv_n
C_f = f_end * C_avg + (1 - f_end) * C_f
A_avg = A_sum * inv_n
alpha = 1.0 / (1.0 + exp(-A_avg))
alpha_f = f_end * alpha + (1 - f_end) * alpha_f
alpha_t = t_end * alpha + (1 - t_end) * alpha_t
"""

#: Window averages of the output layer at a phase end: ``C_f`` and the
#: target-phase rate ``phi_t``.
OUTPUT_AVERAGE_CODE = """
C_avg = C_sum * inv_n
C_f = f_end * C_avg + (1 - f_end) * C_f
phi_t = t_end * phi_sum * inv_n + (1 - t_end) * phi_t
"""

#: Neuron-side code, run at every phase end after the window averages.
#: ``t_end`` is 1 on the last step of a target phase and 0 otherwise, so
#: ``delta`` (and the bias change) is zero except at the end of a target phase.
#: ``eta_P_k`` is the product eta * P_h * k_B of the layer.
HIDDEN_DELTA_CODE = """
s_f = 1.0 / (1.0 + exp(-C_f))
delta = t_end * eta_P_k * (alpha_t - alpha_f) * lambda_max * s_f * (1.0 - s_f)
b += delta
"""

#: Output-layer counterpart of :data:`HIDDEN_DELTA_CODE`; ``phi_t`` is the
#: target-phase window average of ``lambda_max * sigma(C)`` and ``eta_P_k`` is
#: eta * P_f * k_D.
OUTPUT_DELTA_CODE = """
s_f = 1.0 / (1.0 + exp(-C_f))
delta = t_end * eta_P_k * (phi_t - lambda_max * s_f) * lambda_max * s_f * (1.0 - s_f)
b += delta
"""

#: Synapse-side code of the ``learn`` pathway (triggered once per example, at
#: the end of the target phase, by presynaptic neurons whose forward-phase PSP
#: average is non-zero; for the others the change is exactly zero).
#: The postsynaptic traces hold sum_j w_j x_j, so they are corrected by
#: dw * x_pre: afterwards the basal potential equals W_new . PSP exactly, as
#: in the reference, where B is recomputed from the current W every step.
#: ``x_pre - sg_pre`` is the presynaptic trace before this step's own spike or
#: expiry (the neuron has already applied it; the targets receive it, with
#: the new weight, in the spike pathway that runs after this one).
SYNAPSE_LEARN_CODE = """
dw = delta_post * psp_f_pre
w += dw
b_L_post += dw * (x_L_pre - sg_L_pre)
b_S_post += dw * (x_S_pre - sg_S_pre)
"""

#: :data:`SYNAPSE_LEARN_CODE` when spikes reach the next layer in the step
#: they are drawn (the reference's timing, see
#: :mod:`neurosim.networks.segregated`): the targets have already received
#: this step's spikes, and their traces hold ``d * sum_j w_j x_j`` (a spike's
#: PSP one step after it is drawn, as the reference's kernel starts at
#: kappa(1)), so the correction is ``dw * d * x_pre``.
SYNAPSE_LEARN_CODE_SAME_STEP = """
dw = delta_post * psp_f_pre
w += dw
b_L_post += dw * d_L * x_L_pre
b_S_post += dw * d_S * x_S_pre
"""

#: Extra ``learn`` code of the symmetric-feedback control, where the output
#: layer's synapses also carry the feedback (Y = W^T): the apical traces of
#: the hidden layer are corrected like the basal ones of the output layer.
SYMMETRIC_LEARN_CODE = """
a_L_pre += dw * (x_L_post - sg_L_post)
a_S_pre += dw * (x_S_post - sg_S_post)
"""


#: Measurement only (no effect on learning): on the output layer's synapses,
#: before the update, send the output layer's ``delta`` back through the
#: forward weights, ``e_bp = W_out^T delta_out``: the error backprop would give
#: the last hidden layer (times its phi'(C_f)), the reference against which
#: the local update's angle is measured (the paper's Fig. 7).
BACKPROP_PROBE_CODE = """
e_bp_pre += w * delta_post
"""


class LayerUpdate(NamedTuple):
    """Weights and biases of one layer after one example's update."""

    W: np.ndarray
    """Feedforward weights, shape (n_post, n_pre)."""
    b: np.ndarray
    """Biases, shape (n_post,)."""
    delta: np.ndarray
    """Per-neuron factor ``delta`` (shape (n_post,)); ``W += outer(delta, psp_f)``."""


def _apply(W: np.ndarray, b: np.ndarray, delta: np.ndarray, psp_f: np.ndarray) -> LayerUpdate:
    return LayerUpdate(W + delta[:, None] * psp_f[None, :], b + delta, delta)


def hidden_update(
    W: np.ndarray,
    b: np.ndarray,
    *,
    psp_f: np.ndarray,
    C_f: np.ndarray,
    alpha_f: np.ndarray,
    alpha_t: np.ndarray,
    eta: float,
    P_h: float,
    k_B: float,
    lambda_max: float,
) -> LayerUpdate:
    """Apply one example's hidden-layer update (numpy reference).

    Parameters
    ----------
    W, b : numpy.ndarray
        Weights (n_post, n_pre) and biases (n_post,) before the update.
    psp_f : numpy.ndarray
        Forward-phase window average of the presynaptic PSPs, (n_pre,).
    C_f : numpy.ndarray
        Forward-phase window average of the somatic potential, (n_post,).
    alpha_f, alpha_t : numpy.ndarray
        Plateau potentials sigma(mean A) of the forward and target phase.
    eta, P_h, k_B, lambda_max : float
        Learning rate, error scaling 20/lambda_max, steady-state constant
        g_B/(g_L + g_B + g_A) and maximum rate.

    Returns
    -------
    LayerUpdate
    """
    s_f = 1.0 / (1.0 + np.exp(-C_f))
    delta = eta * P_h * k_B * (alpha_t - alpha_f) * lambda_max * s_f * (1.0 - s_f)
    return _apply(W, b, delta, psp_f)


def output_update(
    W: np.ndarray,
    b: np.ndarray,
    *,
    psp_f: np.ndarray,
    C_f: np.ndarray,
    phi_t: np.ndarray,
    eta: float,
    P_f: float,
    k_D: float,
    lambda_max: float,
) -> LayerUpdate:
    """Apply one example's output-layer update (numpy reference).

    Parameters
    ----------
    W, b : numpy.ndarray
        Weights (n_post, n_pre) and biases (n_post,) before the update.
    psp_f : numpy.ndarray
        Forward-phase window average of the presynaptic PSPs, (n_pre,).
    C_f : numpy.ndarray
        Forward-phase window average of the somatic potential, (n_post,).
    phi_t : numpy.ndarray
        Target-phase window average of the rate lambda_max * sigma(C).
    eta, P_f, k_D, lambda_max : float
        Learning rate, error scaling 20/lambda_max**2, steady-state constant
        g_D/(g_L + g_D) and maximum rate.

    Returns
    -------
    LayerUpdate
    """
    s_f = 1.0 / (1.0 + np.exp(-C_f))
    delta = eta * P_f * k_D * (phi_t - lambda_max * s_f) * lambda_max * s_f * (1.0 - s_f)
    return _apply(W, b, delta, psp_f)


def _hidden_derived(params: Mapping[str, Any]) -> dict[str, float]:
    """``P_h = p_hidden_factor / lambda_max``, ``k_B = g_B / (g_L + g_B + g_A)``, ``eta_P_k``.

    ``k_B`` is the soma's steady-state share of the basal potential. The
    operations are in the order the network has always used (``g_L + (g_B +
    g_A)``), so that its updates stay bit-identical.
    """
    P_h = params["p_hidden_factor"] / params["lambda_max"]
    k_B = params["g_B"] / (params["g_L"] + (params["g_B"] + params["g_A"]))
    return {"P_h": P_h, "k_B": k_B, "eta_P_k": params["eta"] * P_h * k_B}


def _output_derived(params: Mapping[str, Any]) -> dict[str, float]:
    """``P_f = p_final_factor / lambda_max**2``, ``k_D = g_D / (g_L + g_D)``, ``eta_P_k``."""
    P_f = params["p_final_factor"] / params["lambda_max"] ** 2
    k_D = params["g_D"] / (params["g_L"] + params["g_D"])
    return {"P_f": P_f, "k_D": k_D, "eta_P_k": params["eta"] * P_f * k_D}


# The checks run two 1 ms steps: the last step of a forward phase, then the
# last step of a target phase (the network's phase flags, as functions of t).
_CHECK_HEAD = """
f_end = int(t < 0.5 * ms)
t_end = 1 - f_end
inv_n = f_end * inv_f + t_end * inv_t
"""

_CHECK_LAYER_EQS = """
C_sum : 1
C_avg : 1
C_f : 1
delta : 1
b : 1
b_L : 1
b_S : 1
"""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _two_phase_ends(net, groups_sums: list[tuple[Any, dict[str, np.ndarray]]], dt) -> None:
    """Run the forward-phase end, then the target-phase end, with the given window sums.

    ``groups_sums``: (group, {variable: (forward sums, target sums)}).
    """
    for phase in (0, 1):
        for group, sums in groups_sums:
            for name, values in sums.items():
                setattr(group, name, values[phase])
        net.run(dt, namespace={})


def _random_params(rule: PlasticityRule, rng: np.random.Generator) -> dict[str, float]:
    # defaults scaled by [0.5, 2] (g_A's default is 0: drawn instead), so that
    # a parameter the code reads under the wrong name would show
    params = {k: v * rng.uniform(0.5, 2.0) for k, v in rule.parameters.items()}
    if "g_A" in params:
        params["g_A"] = rng.uniform(0.01, 0.1)
    return params


def _trace_pairs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Random traces ``x_L``, ``x_S`` and their values before this step, ``sg_L``, ``sg_S``."""
    x = {name: rng.uniform(0.1, 1.0, n) for name in ("x_L", "x_S", "sg_L", "sg_S")}
    x["sg_L"] *= 0.5 * x["x_L"]  # a trace before its own spike, x - sg, stays positive
    x["sg_S"] *= 0.5 * x["x_S"]
    return x


def _check_hidden(rule: PlasticityRule, rng: np.random.Generator) -> CheckResult:
    """Phase ends of a hidden layer and its ``learn`` pathways, against :func:`hidden_update`.

    Two synapse sets from the same presynaptic group: ``learn_input`` (plain
    weight change) and ``learn`` (with the basal-trace correction, checked as
    ``b_L = W (x_L - sg_L)`` after the update).
    """
    import brian2 as b2

    n_pre, n_post, dt = 5, 3, 1 * b2.ms
    params = _random_params(rule, rng)
    inv = {"inv_f": 1 / rng.integers(2, 50), "inv_t": 1 / rng.integers(2, 50)}
    pre_sums = {"psp_sum": rng.uniform(0.1, 5.0, (2, n_pre))}
    post_sums = {
        "C_sum": rng.normal(0.0, 20.0, (2, n_post)),
        "A_sum": rng.normal(0.0, 20.0, (2, n_post)),
        "psp_sum": rng.uniform(0.1, 5.0, (2, n_post)),
    }
    W_in, W = (rng.uniform(0.1, 1.0, (n_post, n_pre)) for _ in range(2))
    b = rng.normal(0.0, 1.0, n_post)
    x = _trace_pairs(rng, n_pre)
    namespace = {**rule.namespace(params), **inv}
    with numpy_target():
        pre = b2.NeuronGroup(
            n_pre,
            "psp_sum : 1\npsp_f : 1\nx_L : 1\nx_S : 1\nsg_L : 1\nsg_S : 1",
            events={"learn": "t > 0.5 * ms"},
            namespace=namespace,
            dt=dt,
        )
        pre.run_regularly(_CHECK_HEAD + rule.code["input_end"], when="groups")
        post = b2.NeuronGroup(
            n_post,
            _CHECK_LAYER_EQS + "A_sum : 1\nA_avg : 1\nalpha_f : 1\nalpha_t : 1\n"
            "psp_sum : 1\npsp_f : 1",
            namespace=namespace,
            dt=dt,
        )
        post.run_regularly(_CHECK_HEAD + rule.code["end"], when="groups")
        post.b = b
        post.b_L = W @ (x["x_L"] - x["sg_L"])
        post.b_S = W @ (x["x_S"] - x["sg_S"])
        for name, values in x.items():
            setattr(pre, name, values)
        synapses = []
        for role, weights in (("learn_input", W_in), ("learn", W)):
            syn = b2.Synapses(
                pre,
                post,
                "w : 1",
                on_pre={"learn": rule.code[role]},
                on_event={"learn": "learn"},
                namespace=namespace,
                dt=dt,
            )
            syn.connect()
            syn.w = weights[syn.j[:], syn.i[:]]
            synapses.append(syn)
        net = b2.Network(pre, post, *synapses)
        _two_phase_ends(net, [(pre, pre_sums), (post, post_sums)], dt)
        got = {
            f"W_{role}": _matrix(syn, n_post, n_pre)
            for role, syn in zip(("learn_input", "learn"), synapses, strict=True)
        }
        got |= {
            name: np.asarray(getattr(post, name)[:])
            for name in ("b", "delta", "psp_f", "b_L", "b_S")
        }
    derived = rule.derived(params)
    common = {
        "psp_f": pre_sums["psp_sum"][0] * inv["inv_f"],
        "C_f": post_sums["C_sum"][0] * inv["inv_f"],
        "alpha_f": _sigmoid(post_sums["A_sum"][0] * inv["inv_f"]),
        "alpha_t": _sigmoid(post_sums["A_sum"][1] * inv["inv_t"]),
        "eta": params["eta"],
        "P_h": derived["P_h"],
        "k_B": derived["k_B"],
        "lambda_max": params["lambda_max"],
    }
    first, deeper = rule.reference(W_in, b, **common), rule.reference(W, b, **common)
    want = {
        "W_learn_input": first.W,
        "W_learn": deeper.W,
        "b": deeper.b,
        "delta": deeper.delta,
        "psp_f": post_sums["psp_sum"][0] * inv["inv_f"],
        "b_L": deeper.W @ (x["x_L"] - x["sg_L"]),
        "b_S": deeper.W @ (x["x_S"] - x["sg_S"]),
    }
    return got, want


def _check_output(rule: PlasticityRule, rng: np.random.Generator) -> CheckResult:
    """Phase ends of the output layer and its full ``learn`` code, against :func:`output_update`.

    The ``learn`` code is the largest the network composes: the backprop
    probe (``e_bp = W^T delta`` with the weights before the update), the
    same-step weight change with its basal-trace correction (``b_L = d_L W
    x_L``) and the symmetric-feedback correction of the apical traces
    (``a_L = W^T (x_L - sg_L)`` of the output layer's traces).
    """
    import brian2 as b2

    n_pre, n_post, dt = 4, 3, 1 * b2.ms
    params = _random_params(rule, rng)
    inv = {"inv_f": 1 / rng.integers(2, 50), "inv_t": 1 / rng.integers(2, 50)}
    post_sums = {
        "C_sum": rng.normal(0.0, 20.0, (2, n_post)),
        "phi_sum": rng.uniform(0.0, 10.0, (2, n_post)),
    }
    W = rng.uniform(0.1, 1.0, (n_post, n_pre))
    b = rng.normal(0.0, 1.0, n_post)
    psp_f = rng.uniform(0.1, 1.0, n_pre)
    x_pre = {name: rng.uniform(0.1, 1.0, n_pre) for name in ("x_L", "x_S")}
    x_post = _trace_pairs(rng, n_post)
    d = {"d_L": rng.uniform(0.5, 1.0), "d_S": rng.uniform(0.5, 1.0)}
    namespace = {**rule.namespace(params), **inv, **d}
    learn = rule.code["backprop_probe"] + rule.code["learn_same_step"]
    learn += rule.code["learn_symmetric"]
    with numpy_target():
        pre = b2.NeuronGroup(
            n_pre,
            "psp_f : 1\nx_L : 1\nx_S : 1\na_L : 1\na_S : 1\ne_bp : 1",
            events={"learn": "t > 0.5 * ms"},
            namespace=namespace,
            dt=dt,
        )
        post = b2.NeuronGroup(
            n_post,
            _CHECK_LAYER_EQS + "phi_sum : 1\nphi_t : 1\nx_L : 1\nx_S : 1\nsg_L : 1\nsg_S : 1",
            namespace=namespace,
            dt=dt,
        )
        post.run_regularly(_CHECK_HEAD + rule.code["end"], when="groups")
        pre.psp_f = psp_f
        for name, values in x_pre.items():
            setattr(pre, name, values)
        for name, values in x_post.items():
            setattr(post, name, values)
        post.b = b
        post.b_L = d["d_L"] * W @ x_pre["x_L"]
        post.b_S = d["d_S"] * W @ x_pre["x_S"]
        pre.a_L = W.T @ (x_post["x_L"] - x_post["sg_L"])
        pre.a_S = W.T @ (x_post["x_S"] - x_post["sg_S"])
        syn = b2.Synapses(
            pre,
            post,
            "w : 1",
            on_pre={"learn": learn},
            on_event={"learn": "learn"},
            namespace=namespace,
            dt=dt,
        )
        syn.connect()
        syn.w = W[syn.j[:], syn.i[:]]
        net = b2.Network(pre, post, syn)
        _two_phase_ends(net, [(post, post_sums)], dt)
        got = {"W": _matrix(syn, n_post, n_pre)}
        got |= {name: np.asarray(getattr(post, name)[:]) for name in ("b", "delta", "b_L", "b_S")}
        got |= {name: np.asarray(getattr(pre, name)[:]) for name in ("e_bp", "a_L", "a_S")}
    derived = rule.derived(params)
    new = rule.reference(
        W,
        b,
        psp_f=psp_f,
        C_f=post_sums["C_sum"][0] * inv["inv_f"],
        phi_t=post_sums["phi_sum"][1] * inv["inv_t"],
        eta=params["eta"],
        P_f=derived["P_f"],
        k_D=derived["k_D"],
        lambda_max=params["lambda_max"],
    )
    want = {
        "W": new.W,
        "b": new.b,
        "delta": new.delta,
        "b_L": d["d_L"] * new.W @ x_pre["x_L"],
        "b_S": d["d_S"] * new.W @ x_pre["x_S"],
        "e_bp": W.T @ new.delta,
        "a_L": new.W.T @ (x_post["x_L"] - x_post["sg_L"]),
        "a_S": new.W.T @ (x_post["x_S"] - x_post["sg_S"]),
    }
    return got, want


def _matrix(syn, n_post: int, n_pre: int) -> np.ndarray:
    """A synapse set's weights as a (n_post, n_pre) matrix."""
    out = np.zeros((n_post, n_pre))
    out[np.asarray(syn.j[:]), np.asarray(syn.i[:])] = np.asarray(syn.w[:])
    return out


#: The hidden layers' rule (plateau potentials of the apical dendrite).
SEGREGATED_HIDDEN = PlasticityRule(
    name="segregated_hidden",
    code={
        "end": HIDDEN_AVERAGE_CODE + PSP_AVERAGE_CODE + HIDDEN_DELTA_CODE,
        "input_end": PSP_AVERAGE_CODE,
        # the input ring's rank-one correction keeps the first layer's traces
        # exact (see neurosim.networks.segregated), so only w changes here
        "learn_input": "w += delta_post * psp_f_pre",
        "learn": SYNAPSE_LEARN_CODE,
        "learn_same_step": SYNAPSE_LEARN_CODE_SAME_STEP,
    },
    # The paper's values (its code's defaults and SegregatedConfig's); the
    # network passes its own.
    parameters={
        "eta": 0.21,
        "p_hidden_factor": 20.0,
        "lambda_max": 0.2,
        "g_L": 0.1,
        "g_B": 0.6,
        "g_A": 0.0,
    },
    reference=hidden_update,
    harness=_check_hidden,
    derive=_hidden_derived,
)

#: The output layer's rule (somatic rates, teaching conductances).
SEGREGATED_OUTPUT = PlasticityRule(
    name="segregated_output",
    code={
        "end": OUTPUT_AVERAGE_CODE + OUTPUT_DELTA_CODE,
        "learn": SYNAPSE_LEARN_CODE,
        "learn_same_step": SYNAPSE_LEARN_CODE_SAME_STEP,
        "learn_symmetric": SYMMETRIC_LEARN_CODE,
        "backprop_probe": BACKPROP_PROBE_CODE,
    },
    parameters={"eta": 0.21, "p_final_factor": 20.0, "lambda_max": 0.2, "g_L": 0.1, "g_D": 0.6},
    reference=output_update,
    harness=_check_output,
    derive=_output_derived,
)
