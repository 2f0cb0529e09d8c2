"""Plasticity rules, one module per rule, each with a plain numpy reference.

- :mod:`neurosim.plasticity.segregated_dendrite`: local hidden/output updates of
  Guerguiev et al. (2017), driven by plateau potentials.
- :mod:`neurosim.plasticity.feedback_alignment`: backprop, feedback alignment and
  shallow updates for the linear task of Lillicrap et al. (2016).
- :mod:`neurosim.plasticity.stdp`: pair-based and triplet STDP (Pfister & Gerstner 2006).
"""
