r"""Bridge between the Brian2 segregated-dendrite network and an equivalent torch rate network.

At the rate level (expected values, spiking noise averaged out) the forward
phase of :mod:`neurosim.networks.segregated` is a sigmoid MLP:

.. math::

    \bar{PSP}_0 = \kappa_\Sigma \lambda_{max} x, \qquad
    C_m = k_m (W_m \bar{PSP}_{m-1} + b_m), \qquad
    \bar{PSP}_m = \kappa_\Sigma \lambda_{max} \sigma(C_m)

with pixel intensities ``x``, ``k_m = k_B = g_B/(g_L + g_B + g_A)`` for hidden
layers and ``k_D = g_D/(g_L + g_D)`` for the output layer (the steady state
of the soma with an isolated apical dendrite), and ``kappa_sum`` the sum of
the PSP kernel over the spike memory, ``sum_{t=1..mem} kappa(t)``: the mean
PSP of a neuron firing ``r`` spikes per step is ``kappa_sum * r``.

:func:`to_torch` builds that network as an ``nn.Sequential`` (``Scale``,
``nn.Linear``, ``Sigmoid``) whose linear layers hold ``W_m`` and ``b_m``
exactly; :func:`from_torch` reads them back into a
:class:`~neurosim.networks.segregated.Weights`, keeping the feedback weights,
which the rate network does not use. Because the bridge is an ordinary
``nn.Sequential``, every rule of :mod:`neurosim.bridges.feedback` trains it,
and its backprop gradient is the reference of :func:`backprop_angles`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# backprop_angles lives in neurosim.analysis.angles (the network uses it without
# the bridge); re-exported here, where it was first.
from neurosim.analysis.angles import backprop_angles
from neurosim.errors import NeurosimError

__all__ = ["Scale", "backprop_angles", "from_torch", "kappa_sum", "rate_constants", "to_torch"]


class Scale(nn.Module):
    """Multiply by a fixed constant (a buffer, never trained)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.register_buffer("factor", torch.tensor(float(factor), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x * self.factor.to(x.dtype)

    def extra_repr(self) -> str:  # noqa: D102
        return f"{float(self.factor):.6g}"


def kappa_sum(tau_L: float, tau_s: float, memory: int) -> float:
    """``sum_{t=1..memory} (exp(-t/tau_L) - exp(-t/tau_s)) / (tau_L - tau_s)``."""
    t = np.arange(1, memory + 1)
    return float(np.sum((np.exp(-t / tau_L) - np.exp(-t / tau_s)) / (tau_L - tau_s)))


def rate_constants(config) -> dict[str, float]:
    """``lambda_max``, ``kappa_sum``, ``k_B`` and ``k_D`` of a SegregatedConfig's network."""
    from neurosim.networks.segregated import _models

    hidden, output = (m["params"] for m in _models(config))
    return {
        "lambda_max": hidden["lambda_max"],
        "kappa_sum": kappa_sum(hidden["tau_L"], hidden["tau_s"], config.psp_memory),
        "k_B": hidden["g_B"] / (hidden["g_L"] + hidden["g_B"] + hidden["g_A"]),
        "k_D": output["g_D"] / (output["g_L"] + output["g_D"]),
    }


def to_torch(config, weights, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """The rate network of ``weights`` (see module doc) as an ``nn.Sequential``.

    Parameters
    ----------
    config : neurosim.networks.segregated.SegregatedConfig
    weights : neurosim.networks.segregated.Weights
    dtype : torch.dtype
        float64 by default, so that weights survive the round trip bit for bit.

    Returns
    -------
    torch.nn.Sequential
        Input: pixels in [0, 1], shape (N, 784). Output: the output layer's
        somatic potentials ``C`` (N, 10); predicted class = argmax.
    """
    c = rate_constants(config)
    n_layers = len(weights.W)
    if n_layers != len(config.layer_sizes):
        raise NeurosimError(
            f"weights: {len(config.layer_sizes)} layers expected by the config, got {n_layers}"
        )
    modules: list[nn.Module] = [Scale(c["kappa_sum"] * c["lambda_max"])]
    for m, (W, b) in enumerate(zip(weights.W, weights.b, strict=True)):
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(W, dtype=dtype))
            linear.bias.copy_(torch.as_tensor(b, dtype=dtype))
        hidden = m < n_layers - 1
        modules += [linear, Scale(c["k_B"] if hidden else c["k_D"])]
        if hidden:
            modules += [nn.Sigmoid(), Scale(c["kappa_sum"] * c["lambda_max"])]
    return nn.Sequential(*modules)


def from_torch(model: nn.Sequential, like):
    """Weights of a :func:`to_torch` network (possibly trained since) for Brian2.

    Parameters
    ----------
    model : torch.nn.Sequential
        Made by :func:`to_torch` (same layer sizes as ``like``).
    like : neurosim.networks.segregated.Weights
        Supplies the feedback weights ``Y`` and ``c`` and the expected shapes.

    Returns
    -------
    neurosim.networks.segregated.Weights
    """
    from neurosim.networks.segregated import Weights

    linears = [m for m in model if isinstance(m, nn.Linear)]
    if len(linears) != len(like.W):
        raise NeurosimError(f"model: {len(like.W)} linear layers expected, got {len(linears)}")
    W, b = [], []
    for k, (lin, ref) in enumerate(zip(linears, like.W, strict=True)):
        if tuple(lin.weight.shape) != ref.shape:
            raise NeurosimError(
                f"model layer {k}: weight shape {tuple(ref.shape)} expected, "
                f"got {tuple(lin.weight.shape)}"
            )
        W.append(lin.weight.detach().cpu().double().numpy().copy())
        b.append(lin.bias.detach().cpu().double().numpy().copy())
    return Weights(tuple(W), tuple(b), like.Y, like.c)
