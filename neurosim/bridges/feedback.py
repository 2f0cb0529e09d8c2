"""Learning rules for torch MLPs: backprop, feedback alignment, DFA and shallow learning.

For a network of linear layers ``z_k = W_k h_{k-1} + b_k``, ``h_k = f(z_k)``
with output error ``e = dL/dz_L`` (the gradient at the last layer's output),
the rules differ only in the signal a layer sends back to the layer below:

backprop
    ``dL/dh_{k-1} = W_k^T delta_k`` (the exact gradient).
feedback alignment (Lillicrap et al. 2016)
    ``dL/dh_{k-1} = B_k^T delta_k`` with a fixed random ``B_k`` of ``W_k``'s shape.
direct feedback alignment (Nokland 2016)
    ``dL/dh_{k-1} = D_k^T e`` for every layer: the output error reaches each
    hidden layer straight through a fixed random ``D_k`` of shape
    ``(n_out, n_{k-1})``.
shallow
    nothing is sent back: only the output layer learns.

In every rule a layer's own update is the usual ``dW_k = delta_k h_{k-1}^T``
with ``delta_k = dL/dh_k * f'(z_k)`` computed by autograd through the
activation, so the rules are autograd functions and any ``nn.Sequential`` of
``nn.Linear`` layers and element-wise activations switches rule with
:func:`convert`, without rewriting the model: the converted model shares the
original's parameters, so the original still computes exact backprop
gradients (which :mod:`neurosim.bridges.alignment` uses for its angles).
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.errors import NeurosimError

__all__ = ["RULES", "FeedbackLinear", "convert", "feedback_linear", "linear_layers"]

#: Rules understood by :func:`convert`.
RULES = ("backprop", "fa", "dfa", "shallow")


class _ErrorStore:
    """The output error of the current backward pass, shared by a DFA network's layers."""

    def __init__(self) -> None:
        self.error: torch.Tensor | None = None


class _FeedbackLinearFunction(torch.autograd.Function):
    """``F.linear`` whose backward sends a rule-dependent signal to its input."""

    @staticmethod
    def forward(ctx, x, weight, bias, feedback, mode, store, is_output):
        ctx.save_for_backward(x, weight, feedback)
        ctx.mode, ctx.store, ctx.is_output = mode, store, is_output
        ctx.has_bias = bias is not None
        return torch.nn.functional.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, feedback = ctx.saved_tensors
        g2 = grad_out.reshape(-1, grad_out.shape[-1])
        grad_w = g2.T @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        grad_b = g2.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        grad_x = None
        if ctx.mode == "dfa" and ctx.is_output:
            # Runs first in the backward pass: every DFA layer below reads it.
            ctx.store.error = grad_out
        if ctx.needs_input_grad[0]:
            if ctx.mode == "fa":
                grad_x = grad_out @ feedback
            elif ctx.mode == "dfa":
                grad_x = ctx.store.error @ feedback
            elif ctx.mode == "backprop":
                grad_x = grad_out @ weight
            # shallow: no signal below the output layer
        return grad_x, grad_w, grad_b, None, None, None, None


def feedback_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    feedback: torch.Tensor,
    mode: str,
    store: _ErrorStore | None = None,
    is_output: bool = False,
) -> torch.Tensor:
    """Affine map ``x W^T + b`` whose backward pass follows ``mode`` (see module doc).

    Parameters
    ----------
    x : torch.Tensor
        Input, shape (..., n_in).
    weight, bias : torch.Tensor
        ``W`` (n_out_layer, n_in) and ``b`` (n_out_layer,) or None.
    feedback : torch.Tensor
        ``B`` of ``W``'s shape (fa) or ``D`` of shape (n_out, n_in) (dfa);
        ignored by backprop and shallow.
    mode : {"backprop", "fa", "dfa", "shallow"}
    store : optional
        The network's shared error store (dfa only).
    is_output : bool
        The network's output layer (dfa: records the output error).

    Returns
    -------
    torch.Tensor
        Shape (..., n_out_layer).
    """
    return _FeedbackLinearFunction.apply(x, weight, bias, feedback, mode, store, is_output)


class FeedbackLinear(nn.Module):
    """A ``nn.Linear`` (parameters shared, not copied) trained by a feedback rule.

    Parameters
    ----------
    linear : torch.nn.Linear
        The layer whose ``weight`` and ``bias`` this module uses.
    mode : {"backprop", "fa", "dfa", "shallow"}
    feedback : torch.Tensor
        Fixed feedback matrix, kept as a buffer (never trained).
    store : optional
        Shared error store of a DFA network.
    is_output : bool
        True for the network's last linear layer.
    """

    def __init__(
        self,
        linear: nn.Linear,
        mode: str,
        feedback: torch.Tensor,
        store: _ErrorStore | None = None,
        is_output: bool = False,
    ) -> None:
        super().__init__()
        self.linear = linear
        self.mode = mode
        self.is_output = is_output
        self.store = store
        self.register_buffer("feedback", feedback)

    @property
    def weight(self) -> nn.Parameter:
        """The shared weight ``W`` (n_out, n_in)."""
        return self.linear.weight

    @property
    def bias(self) -> nn.Parameter | None:
        """The shared bias."""
        return self.linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return feedback_linear(
            x, self.weight, self.bias, self.feedback, self.mode, self.store, self.is_output
        )

    def extra_repr(self) -> str:  # noqa: D102
        return f"{self.linear.in_features}, {self.linear.out_features}, mode={self.mode}"


def linear_layers(model: nn.Module) -> list[nn.Module]:
    """The ``nn.Linear`` / :class:`FeedbackLinear` layers of a model, in order.

    A converted layer counts once (not again as the ``nn.Linear`` it wraps).
    """
    wrapped = {id(m.linear) for m in model.modules() if isinstance(m, FeedbackLinear)}
    return [
        m
        for m in model.modules()
        if isinstance(m, FeedbackLinear) or (isinstance(m, nn.Linear) and id(m) not in wrapped)
    ]


def _uniform(shape: tuple[int, int], fan_in: int, generator: torch.Generator) -> torch.Tensor:
    # The scale of nn.Linear's default initialisation, for a matrix that
    # carries signals into a layer of fan-in `fan_in`.
    bound = 1.0 / fan_in**0.5
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


def convert(
    model: nn.Sequential,
    rule: str,
    *,
    seed: int = 0,
    feedback_scale: float = 1.0,
    feedback: list[torch.Tensor] | None = None,
) -> nn.Sequential:
    """Return ``model`` trained by ``rule``: same modules, same parameters.

    Parameters
    ----------
    model : torch.nn.Sequential
        Linear layers and element-wise activations (other modules are kept
        as they are and must not mix features, or the rule is not defined).
    rule : {"backprop", "fa", "dfa", "shallow"}
    seed : int
        Seed of the random feedback matrices.
    feedback_scale : float
        Random feedback matrices are uniform in ``+-feedback_scale / sqrt(n)``,
        ``n`` the width of the layer the matrix sends the error into (1: the
        scale of torch's default weight initialisation of that layer).
    feedback : list of torch.Tensor, optional
        Feedback matrices to use instead of random ones, one per linear layer
        (fa: each of the layer's weight shape; dfa: (n_out, n_in) of each
        layer). The first layer's is never used; pass anything of its shape.

    Returns
    -------
    torch.nn.Sequential
        A new container; ``backprop`` returns ``model`` itself. In the
        shallow rule the hidden layers' gradients are zero.

    Raises
    ------
    NeurosimError
        For an unknown rule, a model without linear layers, or feedback
        matrices of the wrong number or shape.
    """
    if rule not in RULES:
        raise NeurosimError(f"rule: has to be one of {', '.join(RULES)}, got {rule!r}")
    if not isinstance(model, nn.Sequential):
        raise NeurosimError(f"model: has to be a torch.nn.Sequential, got {type(model).__name__}")
    linears = [m for m in model if isinstance(m, nn.Linear)]
    if not linears:
        raise NeurosimError("model: has no nn.Linear layer to train")
    if rule == "backprop":
        return model
    n_out = linears[-1].out_features
    shapes = [
        (n_out, lin.in_features) if rule == "dfa" else tuple(lin.weight.shape) for lin in linears
    ]
    if feedback is None:
        gen = torch.Generator().manual_seed(seed)
        feedback = [feedback_scale * _uniform(s, s[1], gen) for s in shapes]
    if len(feedback) != len(linears):
        raise NeurosimError(f"feedback: {len(linears)} matrices needed, got {len(feedback)}")
    for k, (mat, shape) in enumerate(zip(feedback, shapes, strict=True)):
        if tuple(mat.shape) != shape:
            raise NeurosimError(
                f"feedback[{k}]: has to have shape {shape} for rule {rule}, got {tuple(mat.shape)}"
            )
    store = _ErrorStore() if rule == "dfa" else None
    layers, k = [], 0
    for module in model:
        if isinstance(module, nn.Linear):
            is_output = k == len(linears) - 1
            mat = feedback[k].detach().clone().to(module.weight.dtype)
            layers.append(FeedbackLinear(module, rule, mat, store, is_output))
            k += 1
        else:
            layers.append(module)
    return nn.Sequential(*layers)
