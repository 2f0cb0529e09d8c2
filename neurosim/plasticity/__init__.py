"""Plasticity rules, one module per rule, all of one shape, registered by name.

Every rule is a :class:`~neurosim.plasticity.rule.PlasticityRule`: its Brian2
code strings by role, its parameters with units and defaults, the constants
derived from them, its numpy reference, and a check that runs the code in
Brian2 and the reference on the same random case. :data:`RULES` collects them
by name; each is defined, whole, in its own module:

- :mod:`neurosim.plasticity.stdp`: ``pair``, ``triplet`` (Pfister & Gerstner
  2006) and ``vogels`` (Vogels et al. 2011), the spike-timing rules a
  projection's ``plasticity: {rule: ...}`` names.
- :mod:`neurosim.plasticity.segregated_dendrite`: ``segregated_hidden`` and
  ``segregated_output``, the local updates of Guerguiev et al. (2017), driven
  by plateau potentials.
- :mod:`neurosim.plasticity.feedback_alignment`: ``feedback_alignment``, the
  backprop, feedback-alignment and shallow updates of the linear task of
  Lillicrap et al. (2016).

``tests/test_plasticity_rules.py`` checks every registered rule against its
reference.
"""

from types import MappingProxyType

from neurosim.plasticity.feedback_alignment import FEEDBACK_ALIGNMENT
from neurosim.plasticity.rule import PlasticityRule
from neurosim.plasticity.segregated_dendrite import SEGREGATED_HIDDEN, SEGREGATED_OUTPUT
from neurosim.plasticity.stdp import RULES as STDP_RULES

__all__ = ["RULES", "PlasticityRule"]

#: Every rule by name (read-only).
RULES: MappingProxyType[str, PlasticityRule] = MappingProxyType(
    {
        **STDP_RULES,
        **{rule.name: rule for rule in (SEGREGATED_HIDDEN, SEGREGATED_OUTPUT, FEEDBACK_ALIGNMENT)},
    }
)
