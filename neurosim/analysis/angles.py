"""Angles between a local learning rule's updates and backprop's."""

from __future__ import annotations

import numpy as np

__all__ = ["backprop_angles"]


def backprop_angles(delta_hidden: np.ndarray, error_bp: np.ndarray, C_f: np.ndarray) -> np.ndarray:
    """Angle between the hidden layer's local update and backprop's, per example.

    The local rule changes the last hidden layer by ``delta_h PSP_f^T`` with
    ``delta_h`` proportional to ``(alpha_t - alpha_f) phi'(C_f)``; backprop on
    the rate network changes it by ``delta_bp PSP_f^T`` with
    ``delta_bp ∝ (W_out^T delta_out) ⊙ phi'(C_f)`` (same presynaptic factor,
    so the angle between the weight updates is the angle between the two
    per-neuron vectors).

    Parameters
    ----------
    delta_hidden : numpy.ndarray
        Local updates, shape (n_examples, n_hidden).
    error_bp : numpy.ndarray
        ``W_out^T delta_out`` at the same examples (the output layer's update
        factor sent back through its own weights), shape (n_examples, n_hidden).
    C_f : numpy.ndarray
        Forward-phase somatic averages of the hidden layer, (n_examples, n_hidden).

    Returns
    -------
    numpy.ndarray
        Degrees, shape (n_examples,); NaN where either vector is zero.
    """
    s = 1.0 / (1.0 + np.exp(-np.asarray(C_f, dtype=float)))
    bp = np.asarray(error_bp, dtype=float) * s * (1.0 - s)
    local = np.asarray(delta_hidden, dtype=float)
    dot = np.sum(local * bp, axis=1)
    norm = np.linalg.norm(local, axis=1) * np.linalg.norm(bp, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(norm > 0, dot / norm, np.nan)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
