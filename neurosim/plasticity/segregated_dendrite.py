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

The Brian2 code strings below are what the network runs (generated code, so
the rule executes inside a single ``run()`` in runtime and standalone modes);
:func:`hidden_update` and :func:`output_update` are the same rule in numpy,
for one example, used by the tests to check what Brian2 applied.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "BACKPROP_PROBE_CODE",
    "HIDDEN_DELTA_CODE",
    "OUTPUT_DELTA_CODE",
    "SYMMETRIC_LEARN_CODE",
    "SYNAPSE_LEARN_CODE",
    "SYNAPSE_LEARN_CODE_SAME_STEP",
    "LayerUpdate",
    "hidden_update",
    "output_update",
]

#: Neuron-side code, run every step after the window averages are updated.
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
