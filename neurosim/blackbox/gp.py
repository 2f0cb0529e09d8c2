r"""Batched, differentiable samples from a Gaussian-process prior (training data of the optimizer).

A function drawn from a zero-mean GP with the squared-exponential kernel

.. math::  k(x, x') = \sigma^2 \exp\left(-\frac{\lVert x - x' \rVert^2}{2 \ell^2}\right)

is represented by random Fourier features (Rahimi & Recht 2007):

.. math::  f(x) = \sigma \sqrt{2 / M} \sum_{m=1}^{M} a_m \cos(\omega_m \cdot x + b_m),
   \quad \omega_m \sim N(0, \ell^{-2} I),\ b_m \sim U(0, 2\pi),\ a_m \sim N(0, 1).

Why random features and not exact conditioning: the optimizer queries each
training function at 100 points chosen on the fly and backpropagates through
the values; a feature sample is a fixed, cheap (O(M d) per query), smooth
function of ``x`` that autograd differentiates directly, whereas exact
conditioning costs a growing Cholesky update per query. The covariance of
the samples is the kernel exactly (``E[cos(w.(x - x'))] = exp(-|x - x'|^2 /
(2 l^2))`` for Gaussian ``w``); only higher moments deviate from a Gaussian
process, by O(1/M).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = ["GPFunctions", "evaluate", "sample_gp_functions", "se_kernel"]


class GPFunctions(NamedTuple):
    """A batch of ``B`` functions on ``R^d`` (random-feature representation)."""

    omega: torch.Tensor
    """Frequencies, (B, M, d)."""
    phase: torch.Tensor
    """Phases, (B, M)."""
    amplitude: torch.Tensor
    """Feature weights times sigma sqrt(2/M), (B, M)."""
    lengthscale: torch.Tensor
    """Length scale of each function, (B,)."""


def sample_gp_functions(
    batch: int,
    dim: int,
    *,
    n_features: int = 500,
    lengthscale: tuple[float, float] = (0.1, 0.6),
    variance: float = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> GPFunctions:
    """Draw ``batch`` functions on ``[-1, 1]^dim`` from the SE-kernel GP prior.

    Parameters
    ----------
    batch, dim : int
        Number of functions and input dimension.
    n_features : int
        Random features per function.
    lengthscale : (float, float)
        Each function's length scale is log-uniform in this range (in units of
        the box ``[-1, 1]^dim``), times ``sqrt(dim)`` so that functions in
        higher dimensions are not rougher along the diagonal.
    variance : float
        Prior variance ``sigma^2``.
    generator : torch.Generator, optional
    dtype : torch.dtype

    Returns
    -------
    GPFunctions
    """
    lo, hi = math.log(lengthscale[0]), math.log(lengthscale[1])
    u = torch.rand(batch, generator=generator, dtype=dtype)
    ell = torch.exp(lo + (hi - lo) * u) * math.sqrt(dim)
    omega = (
        torch.randn(batch, n_features, dim, generator=generator, dtype=dtype) / ell[:, None, None]
    )
    phase = 2 * math.pi * torch.rand(batch, n_features, generator=generator, dtype=dtype)
    a = torch.randn(batch, n_features, generator=generator, dtype=dtype)
    return GPFunctions(omega, phase, a * math.sqrt(2.0 * variance / n_features), ell)


def evaluate(funcs: GPFunctions, x: torch.Tensor) -> torch.Tensor:
    """Values of every function at its own points.

    Parameters
    ----------
    funcs : GPFunctions
        ``B`` functions.
    x : torch.Tensor
        Points, (B, d) (one per function) or (B, N, d).

    Returns
    -------
    torch.Tensor
        (B,) or (B, N); differentiable in ``x``.
    """
    single = x.dim() == 2
    if single:
        x = x[:, None, :]
    proj = torch.einsum("bnd,bmd->bnm", x, funcs.omega) + funcs.phase[:, None, :]
    y = torch.einsum("bnm,bm->bn", torch.cos(proj), funcs.amplitude)
    return y[:, 0] if single else y


def se_kernel(
    x1: torch.Tensor, x2: torch.Tensor, lengthscale: float | torch.Tensor, variance: float = 1.0
) -> torch.Tensor:
    """Squared-exponential kernel matrix ``k(x1_i, x2_j)`` (last axis: coordinates)."""
    d2 = ((x1[..., :, None, :] - x2[..., None, :, :]) ** 2).sum(-1)
    ell = torch.as_tensor(lengthscale, dtype=x1.dtype, device=x1.device)
    if ell.dim() == 1:
        ell = ell[:, None, None]
    return variance * torch.exp(-d2 / (2 * ell**2))
