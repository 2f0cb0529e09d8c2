"""Alignment metrics: how close a learning rule's updates come to backprop's.

Two angles per layer, for every rule (DFA included):

update angle
    between the weight update the rule applies to layer ``k`` and the one
    backprop would apply on the same batch, ``angle(dW_rule, dW_bp)``;
    0 deg = backprop's direction, 90 deg = uncorrelated.
feedback angle
    between the layer's forward map and the matrix that carries the error
    back through it. Feedback alignment: ``angle(W_k, B_k)`` with ``B_k``
    stored in ``W_k``'s orientation (the paper's ``B^T``). DFA: the error
    reaches the input of layer ``k`` through ``D_k``, where backprop would use
    the product ``W_L ... W_k`` of the forward weights from there to the
    output, so the angle is ``angle(W_L ... W_k, D_k)``.

Angles are in degrees, between flattened matrices.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from neurosim.bridges.feedback import FeedbackLinear, linear_layers

__all__ = ["angle", "feedback_angles", "update_angles"]


def angle(a: torch.Tensor, b: torch.Tensor) -> float:
    """Angle in degrees between two tensors of equal size, seen as vectors.

    Returns NaN when either is zero (no direction).
    """
    a, b = a.detach().reshape(-1).double(), b.detach().reshape(-1).double()
    na, nb = torch.linalg.vector_norm(a), torch.linalg.vector_norm(b)
    if na == 0 or nb == 0:
        return math.nan
    cos = torch.clamp(torch.dot(a, b) / (na * nb), -1.0, 1.0)
    return math.degrees(math.acos(float(cos)))


def _weight_grads(model: nn.Module, loss: torch.Tensor) -> list[torch.Tensor | None]:
    weights = [layer.weight for layer in linear_layers(model)]
    trained = [w for w in weights if w.requires_grad]
    grads = iter(torch.autograd.grad(loss, trained, allow_unused=True))
    return [next(grads) if w.requires_grad else None for w in weights]


def update_angles(
    rule_model: nn.Module,
    reference_model: nn.Module,
    inputs: torch.Tensor,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
) -> list[float]:
    """Angle between each layer's rule update and its backprop update on one batch.

    Parameters
    ----------
    rule_model : torch.nn.Module
        Model converted by :func:`neurosim.bridges.feedback.convert`.
    reference_model : torch.nn.Module
        The original model (same parameters), which backpropagates exactly.
    inputs : torch.Tensor
        A batch of inputs.
    loss_fn : callable
        Maps the model's output to the scalar loss.

    Returns
    -------
    list of float
        One angle per linear layer (degrees); NaN for a layer the rule does
        not update (the hidden layers of shallow learning). The last layer's
        update is backprop's in every rule (0 deg).
    """
    rule = _weight_grads(rule_model, loss_fn(rule_model(inputs)))
    exact = _weight_grads(reference_model, loss_fn(reference_model(inputs)))
    return [
        math.nan if r is None or e is None else angle(r, e)
        for r, e in zip(rule, exact, strict=True)
    ]


def feedback_angles(rule_model: nn.Module) -> list[float]:
    """Angle between each layer's forward map and its feedback matrix (see module doc).

    Returns
    -------
    list of float
        One value per linear layer; NaN where no feedback matrix is used
        (backprop, shallow, and the first layer, whose input needs no error).
    """
    layers = linear_layers(rule_model)
    out = [math.nan] * len(layers)
    for k in range(1, len(layers)):
        layer = layers[k]
        if not isinstance(layer, FeedbackLinear) or layer.mode not in ("fa", "dfa"):
            continue
        if layer.mode == "fa":
            out[k] = angle(layer.weight, layer.feedback)
        else:
            product = layers[-1].weight.detach()
            for above in reversed(layers[k:-1]):
                product = product @ above.weight.detach()
            out[k] = angle(product, layer.feedback)
    return out
