r"""Analytic steady states of passive compartment models.

For a soma coupled to dendrites ``d`` (a star, as in ``passive_pyramidal``),
with somatic leak ``g_L``, dendritic leak ``g_d``, coupling ``g_c`` and a common
reversal ``E_L``, Kirchhoff's current law at steady state gives

.. math::

    v_d = \frac{g_d E_L + g_c v_s + I_d}{g_d + g_c}, \qquad
    v_s = E_L + \frac{I_s + \sum_d k_d I_d}{G_{in}},

with the dendrite-to-soma current transfer :math:`k_d = g_c / (g_c + g_d)` and the
somatic input conductance :math:`G_{in} = g_L + \sum_d g_c g_d / (g_c + g_d)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from brian2 import Quantity

__all__ = ["Dendrite", "input_conductance", "star_steady_state"]


class Dendrite(NamedTuple):
    """A passive dendrite attached to the soma."""

    g_leak: Quantity
    g_couple: Quantity
    current: Quantity


def input_conductance(g_soma: Quantity, dendrites: Sequence[Dendrite]) -> Quantity:
    """Somatic input conductance :math:`G_{in}` of the star (see module docstring)."""
    total = g_soma
    for d in dendrites:
        total = total + d.g_couple * d.g_leak / (d.g_couple + d.g_leak)
    return total


def star_steady_state(
    E_L: Quantity, g_soma: Quantity, I_soma: Quantity, dendrites: Sequence[Dendrite]
) -> tuple[Quantity, list[Quantity]]:
    """Steady-state potentials of a passive soma with dendrites.

    Parameters
    ----------
    E_L : Quantity
        Leak reversal potential, shared by all compartments.
    g_soma : Quantity
        Somatic leak conductance.
    I_soma : Quantity
        Current injected into the soma.
    dendrites : sequence of Dendrite
        Leak conductance, coupling conductance and injected current of each
        dendrite.

    Returns
    -------
    v_soma : Quantity
        Somatic potential.
    v_dendrites : list of Quantity
        Potential of each dendrite, in the order given.
    """
    drive = I_soma
    for d in dendrites:
        drive = drive + d.g_couple / (d.g_couple + d.g_leak) * d.current
    v_soma = E_L + drive / input_conductance(g_soma, dendrites)
    v_dend = [
        (d.g_leak * E_L + d.g_couple * v_soma + d.current) / (d.g_leak + d.g_couple)
        for d in dendrites
    ]
    return v_soma, v_dend
