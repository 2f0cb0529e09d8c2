"""The shape every plasticity rule has: Brian2 code, parameters, derived constants, reference.

A :class:`PlasticityRule` holds all of a rule in one object, defined in the
rule's own module (:mod:`~neurosim.plasticity.stdp`,
:mod:`~neurosim.plasticity.segregated_dendrite`,
:mod:`~neurosim.plasticity.feedback_alignment`):

``code``
    Brian2 code strings by role (``model``/``on_pre``/``on_post`` for STDP,
    ``end``/``learn``... for the segregated-dendrite layers, ...). Networks
    build their Brian2 objects from these strings, and so does the rule's own
    check, so what is checked is what runs.
``parameters``
    Every parameter by name with its default value; the default's unit is the
    parameter's dimension (a float: dimensionless). Iterating gives the names.
``derived``
    Constants computed from the parameters (``eta_P_k`` of the segregated
    layers, ``alpha`` of Vogels' rule); the code's namespace is the parameters
    plus these.
``reference``
    The same rule in plain numpy.
``check``
    Runs the rule's code strings in Brian2 (runtime device, numpy target,
    a few neurons and steps) on a random case, and the numpy reference on the
    same case; ``tests/test_plasticity_rules.py`` asserts they agree.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from brian2 import Quantity, prefs
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension

from neurosim.units import check_rate_constant, parse_quantity

__all__ = ["CheckResult", "PlasticityRule", "numpy_target"]

#: What :meth:`PlasticityRule.check` returns: (Brian2 result, reference result),
#: two dicts of arrays with the same keys.
CheckResult = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


def _nothing_derived(params: Mapping[str, Any]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, eq=False)
class PlasticityRule:
    """A plasticity rule: its Brian2 code, parameters, derived constants and numpy reference.

    Rules compare by identity (``eq=False``): each is defined once, and
    identity keeps them hashable although they hold mappings.

    Parameters
    ----------
    name : str
        The name protocol files and :data:`neurosim.plasticity.RULES` use.
    code : Mapping[str, str]
        Brian2 code strings by role; stored read-only.
    parameters : Mapping[str, Quantity or float]
        Default value of every parameter; its unit is the parameter's
        dimension. Stored read-only.
    reference : callable
        The numpy reference (its signature is the rule's own; see its module).
    harness : callable
        ``harness(rule, rng) -> (brian2_result, reference_result)``, called by
        :meth:`check`.
    derive : callable, optional
        ``derive(params) -> dict`` of derived constants, called by
        :meth:`derived`; none by default.
    """

    name: str
    code: Mapping[str, str]
    parameters: Mapping[str, Quantity | float]
    reference: Callable[..., Any] = field(repr=False)
    harness: Callable[[PlasticityRule, np.random.Generator], CheckResult] = field(repr=False)
    derive: Callable[[Mapping[str, Any]], dict[str, Any]] = field(
        default=_nothing_derived, repr=False
    )

    def __post_init__(self):
        # read-only copies: a caller that edits a rule's code or defaults
        # would change them for every later network in the process
        object.__setattr__(self, "code", MappingProxyType(dict(self.code)))
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def dimension(self, name: str) -> Dimension:
        """Physical dimension of parameter ``name`` (that of its default)."""
        default = self.parameters[name]
        return default.dim if isinstance(default, Quantity) else DIMENSIONLESS

    def derived(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Constants derived from ``params`` (which holds every parameter; extra keys are ignored).

        Returns
        -------
        dict
            Name -> value; the rule's code may use them next to the parameters.
        """
        return self.derive(params)

    def namespace(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters and derived constants: what the rule's code reads."""
        own = {name: params[name] for name in self.parameters}
        return {**own, **self.derived(own)}

    def parameters_from(self, spec: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The defaults, overridden by the rule parameters that ``spec`` gives, unit-checked.

        Keys of ``spec`` that are not parameters are left to the caller.

        Parameters
        ----------
        spec : Mapping
            Values as read from a data file (``"20 ms"``, ``0.01``).
        where : str
            Location of ``spec`` for messages, e.g. ``"p.yaml: projections.e.plasticity"``.

        Returns
        -------
        dict
            Every parameter, with units.

        Raises
        ------
        NeurosimError
            One line naming ``where.<key>``: a wrong unit, a value that is not
            finite, or a time that is not positive.
        """
        params = dict(self.parameters)
        for key in self.parameters:
            if key in spec:
                at = f"{where}.{key}"
                value = parse_quantity(spec[key], at, self.dimension(key))
                params[key] = check_rate_constant(key, value, at)
        return params

    def check(self, rng: np.random.Generator | None = None) -> CheckResult:
        """Run the rule's Brian2 code and its numpy reference on one random case.

        Parameters
        ----------
        rng : numpy.random.Generator, optional
            Draws the case (default: seed 0).

        Returns
        -------
        (dict, dict)
            Brian2's result and the reference's, arrays under the same keys.
        """
        got, want = self.harness(self, np.random.default_rng(0) if rng is None else rng)
        if set(got) != set(want):  # a bug in the harness, not a user's error
            raise ValueError(
                f"rule {self.name!r}: check returned keys {sorted(got)} from Brian2 "
                f"but {sorted(want)} from the reference"
            )
        return got, want


@contextlib.contextmanager
def numpy_target() -> Iterator[None]:
    """Generate Brian2 runtime code for numpy inside the block; restore the target after.

    The checks use numpy: no compiler, and double precision throughout.
    """
    previous = prefs.codegen.target
    prefs.codegen.target = "numpy"
    try:
        yield
    finally:
        prefs.codegen.target = previous
