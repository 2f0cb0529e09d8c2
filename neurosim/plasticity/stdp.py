"""Spike-timing-dependent plasticity: pair-based and triplet rules (all-to-all traces).

Both rules are additive and weight-independent; every spike interacts with all
earlier spikes through exponentially decaying traces (the "all-to-all"
interaction of Pfister & Gerstner 2006).

Pair rule
    Presynaptic trace ``r1`` (time constant ``tau_plus``), postsynaptic trace
    ``o1`` (``tau_minus``); each spike first changes ``w`` with the other
    side's trace, then increments its own trace by 1:

    - presynaptic spike: ``w -= A2_minus o1``, ``r1 += 1``;
    - postsynaptic spike: ``w += A2_plus r1``, ``o1 += 1``.

    For one isolated pair with ``delta = t_post - t_pre`` the change is
    ``A2_plus exp(-delta / tau_plus)`` if ``delta > 0`` and
    ``-A2_minus exp(delta / tau_minus)`` if ``delta < 0`` (:func:`pair_window`).

Triplet rule (Pfister & Gerstner 2006, J. Neurosci. 26:9673, eqs. 3-4)
    Two more, slower traces, ``r2`` (``tau_x``, presynaptic) and ``o2``
    (``tau_y``, postsynaptic), gate the pair terms:

    - presynaptic spike: ``w -= o1 (A2_minus + A3_minus r2)``, then
      ``r1 += 1``, ``r2 += 1``;
    - postsynaptic spike: ``w += r1 (A2_plus + A3_plus o2)``, then
      ``o1 += 1``, ``o2 += 1``.

    ``r2`` and ``o2`` are read before the spike's own increment (the paper's
    ``t - epsilon``). Post-pre-post triplets add potentiation through ``o2``,
    which is what makes pairing at high frequency potentiate even when post
    precedes pre (Sjöström, Turrigiano & Nelson 2001).

The traces are Brian2 ``event-driven`` variables, so they are integrated
exactly between spikes; the simulation step only quantises spike times.
Spikes that coincide are handled presynaptic first (Brian2 runs the ``pre``
pathway before the ``post`` pathway), i.e. ``delta = 0`` counts as
pre-before-post; :func:`reference_weight_change` uses the same convention.

Each rule is an :class:`STDPRule` (:data:`PAIR_RULE`, :data:`TRIPLET_RULE`,
:data:`VOGELS_RULE`, by name in :data:`RULES`): its ``model``/``on_pre``/
``on_post`` code, its parameters with the defaults of :data:`DEFAULTS`, and
:func:`reference_weight_change` as its numpy reference.

Parameter sets (:data:`PARAMETER_SETS`; all with ``tau_plus = 16.8 ms`` and
``tau_minus = 33.7 ms``, the Bi & Poo 1998 window fits used by Pfister &
Gerstner):

``visual_cortex``
    triplet rule, all-to-all, fit to Sjöström et al. 2001 (Pfister & Gerstner
    2006, Table 4): ``tau_x = 101 ms``, ``tau_y = 125 ms``,
    ``A2_plus = 5e-10``, ``A3_plus = 6.2e-3``, ``A2_minus = 7e-3``,
    ``A3_minus = 2.3e-4``.
``hippocampal``
    triplet rule, all-to-all, fit to hippocampal culture data (Bi & Poo 1998,
    Wang et al. 2005; Pfister & Gerstner 2006, Table 4): ``tau_x = 946 ms``,
    ``tau_y = 27 ms``, ``A2_plus = 6.1e-3``, ``A3_plus = 6.7e-3``,
    ``A2_minus = 1.6e-3``, ``A3_minus = 1.4e-3``.
``pair_classic``
    pair rule with the same time constants and amplitudes chosen here (not a
    fit): ``A2_plus = 5e-3``, ``A2_minus = 3e-3``, so that the depression
    lobe's area (``A2_minus tau_minus``) slightly exceeds the potentiation
    lobe's, as in Song, Miller & Abbott 2000.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
from brian2 import Hz, Quantity, ms

from neurosim.plasticity.rule import CheckResult, PlasticityRule, numpy_target

__all__ = [
    "DEFAULTS",
    "PAIR_RULE",
    "PARAMETER_SETS",
    "RULES",
    "TRIPLET_RULE",
    "VOGELS_RULE",
    "STDPRule",
    "pair_window",
    "reference_weight_change",
]


class STDPRule(PlasticityRule):
    """A spike-timing rule: code roles ``model``, ``on_pre`` and ``on_post``.

    A :class:`~neurosim.plasticity.rule.PlasticityRule` whose code is what a
    Brian2 ``Synapses`` takes; projections
    (:mod:`neurosim.networks.projection_plasticity`) accept exactly these
    rules. ``code["model"]`` declares the weight ``w`` (dimensionless) and the
    event-driven traces; ``code["on_pre"]`` and ``code["on_post"]`` run at a
    presynaptic and a postsynaptic spike.
    """

    @property
    def model(self) -> str:
        """Synapse equations: the weight ``w`` and the event-driven traces."""
        return self.code["model"]

    @property
    def on_pre(self) -> str:
        """Statements run at a presynaptic spike."""
        return self.code["on_pre"]

    @property
    def on_post(self) -> str:
        """Statements run at a postsynaptic spike."""
        return self.code["on_post"]


_BI_POO = {"tau_plus": 16.8 * ms, "tau_minus": 33.7 * ms}

#: Parameter sets by name: (rule name, parameters with units).
PARAMETER_SETS: MappingProxyType[str, tuple[str, dict[str, Quantity | float]]] = MappingProxyType(
    {
        "visual_cortex": (
            "triplet",
            {
                **_BI_POO,
                "tau_x": 101 * ms,
                "tau_y": 125 * ms,
                "A2_plus": 5e-10,
                "A3_plus": 6.2e-3,
                "A2_minus": 7e-3,
                "A3_minus": 2.3e-4,
            },
        ),
        "hippocampal": (
            "triplet",
            {
                **_BI_POO,
                "tau_x": 946 * ms,
                "tau_y": 27 * ms,
                "A2_plus": 6.1e-3,
                "A3_plus": 6.7e-3,
                "A2_minus": 1.6e-3,
                "A3_minus": 1.4e-3,
            },
        ),
        "pair_classic": ("pair", {**_BI_POO, "A2_plus": 5e-3, "A2_minus": 3e-3}),
    }
)


def pair_window(delay: Quantity, params: dict[str, Quantity | float]) -> np.ndarray:
    """Weight change of one isolated pre/post pair under the pair terms.

    ``delay = t_post - t_pre``; ``delay >= 0`` potentiates (pre first, the
    simulator's order for coincident spikes).
    """
    d = np.asarray(delay / ms, float)
    tau_p, tau_m = float(params["tau_plus"] / ms), float(params["tau_minus"] / ms)
    return np.where(
        d >= 0,
        params["A2_plus"] * np.exp(-d / tau_p),
        -params["A2_minus"] * np.exp(d / tau_m),
    )


def _events(pre: Quantity, post: Quantity) -> list[tuple[float, int]]:
    """Spikes as ``(time in ms, is_post)`` in time order, presynaptic first at equal times."""
    return sorted(
        [(float(t / ms), 0) for t in np.atleast_1d(pre)]
        + [(float(t / ms), 1) for t in np.atleast_1d(post)]
    )


def reference_weight_change(
    pre: Quantity, post: Quantity, rule: str, params: dict[str, Quantity | float]
) -> float:
    """Total weight change of one synapse for given spike trains (numpy reference).

    Processes the spikes in time order (presynaptic first at equal times)
    with the exact exponential decay of the traces between events.

    Parameters
    ----------
    pre, post : Quantity
        Spike times.
    rule : {"pair", "triplet", "vogels"}
        The pair rule ignores ``tau_x``, ``tau_y``, ``A3_plus``, ``A3_minus``.
    params : dict
        A parameter set (see :data:`PARAMETER_SETS`).
    """
    if rule == "vogels":
        return _vogels_reference(pre, post, params)
    triplet = rule == "triplet"
    tau = {
        name: float(params[name] / ms) if name in params else np.inf
        for name in ("tau_plus", "tau_x", "tau_minus", "tau_y")
    }
    a3_plus = params.get("A3_plus", 0.0) if triplet else 0.0
    a3_minus = params.get("A3_minus", 0.0) if triplet else 0.0
    events = _events(pre, post)
    r1 = r2 = o1 = o2 = 0.0
    w, last = 0.0, 0.0
    for t, is_post in events:
        elapsed = t - last
        r1 *= np.exp(-elapsed / tau["tau_plus"])
        r2 *= np.exp(-elapsed / tau["tau_x"])
        o1 *= np.exp(-elapsed / tau["tau_minus"])
        o2 *= np.exp(-elapsed / tau["tau_y"])
        last = t
        if is_post:
            w += r1 * (params["A2_plus"] + a3_plus * o2)
            o1 += 1.0
            o2 += 1.0
        else:
            w -= o1 * (params["A2_minus"] + a3_minus * r2)
            r1 += 1.0
            r2 += 1.0
    return w


def _vogels_derived(params: Mapping[str, Quantity | float]) -> dict[str, float]:
    """Vogels et al.'s depression per presynaptic spike, ``alpha = 2 rho0 tau_stdp``."""
    return {"alpha": float(2 * params["rho0"] * params["tau_stdp"])}


def _vogels_reference(pre: Quantity, post: Quantity, params: dict[str, Quantity | float]) -> float:
    """Vogels et al. (2011): ``w += eta (o1 - 2 rho0 tau)`` at pre, ``w += eta r1`` at post."""
    tau = float(params["tau_stdp"] / ms)
    eta, alpha = float(params["eta"]), float(_vogels_derived(params)["alpha"])
    events = _events(pre, post)
    r1 = o1 = w = last = 0.0
    for t, is_post in events:
        r1 *= np.exp(-(t - last) / tau)
        o1 *= np.exp(-(t - last) / tau)
        last = t
        if is_post:
            o1 += 1.0
            w += eta * r1
        else:
            r1 += 1.0
            w += eta * (o1 - alpha)
    return w


#: Default parameters of each rule on a projection (the amplitudes are
#: fractions of the projection's ``w_max``): the published sets above, and
#: Vogels et al.'s values (tau 20 ms, target rate 3 Hz).
DEFAULTS: MappingProxyType[str, dict[str, Quantity | float]] = MappingProxyType(
    {
        "pair": PARAMETER_SETS["pair_classic"][1],
        "triplet": PARAMETER_SETS["visual_cortex"][1],
        "vogels": {"tau_stdp": 20 * ms, "eta": 1e-2, "rho0": 3 * Hz},
    }
)


def _reference(name: str):
    """:func:`reference_weight_change` of rule ``name``: ``(pre, post, params) -> change``."""

    def reference(pre: Quantity, post: Quantity, params: dict[str, Quantity | float]) -> float:
        return reference_weight_change(pre, post, name, params)

    reference.__doc__ = f"Weight change of one synapse under the {name} rule (numpy reference)."
    return reference


#: Time step and length (in steps) of the check's spike trains.
_CHECK_DT, _CHECK_STEPS, _CHECK_SYNAPSES = 0.1 * ms, 400, 8


def _check(rule: PlasticityRule, rng: np.random.Generator) -> CheckResult:
    """Random spike trains on independent synapses: Brian2's weights and the reference's.

    Synapse ``c`` connects presynaptic neuron ``c`` to postsynaptic neuron
    ``c``; each side fires 1-10 spikes on the grid of a 40 ms run, and
    synapse 0's trains coincide spike for spike (the pre-first convention).
    The parameters are the defaults scaled by factors in [0.5, 2], so that a
    parameter the code reads under the wrong name would show.
    """
    import brian2 as b2

    params = {k: v * rng.uniform(0.5, 2.0) for k, v in rule.parameters.items()}

    def train() -> np.ndarray:
        """1-10 spike steps, distinct (a source spikes at most once per step)."""
        return np.sort(rng.choice(np.arange(1, _CHECK_STEPS), rng.integers(1, 11), replace=False))

    trains = []
    for c in range(_CHECK_SYNAPSES):
        pre = train()
        trains.append((pre, pre if c == 0 else train()))
    indices = np.arange(_CHECK_SYNAPSES)
    with numpy_target():
        sources = [
            b2.SpikeGeneratorGroup(
                _CHECK_SYNAPSES,
                np.repeat(indices, [len(t[side]) for t in trains]),
                np.concatenate([t[side] for t in trains]) * _CHECK_DT,
                dt=_CHECK_DT,
            )
            for side in (0, 1)
        ]
        synapses = b2.Synapses(
            *sources,
            rule.code["model"],
            on_pre=rule.code["on_pre"],
            on_post=rule.code["on_post"],
            namespace=rule.namespace(params),
            dt=_CHECK_DT,
        )
        synapses.connect(j="i")
        net = b2.Network(*sources, synapses)
        net.run((_CHECK_STEPS + 1) * _CHECK_DT, namespace={})
        w = np.empty(_CHECK_SYNAPSES)
        w[np.asarray(synapses.i[:])] = np.asarray(synapses.w[:], float)
    want = [rule.reference(pre * _CHECK_DT, post * _CHECK_DT, params) for pre, post in trains]
    return {"w": w}, {"w": np.array(want)}


PAIR_RULE = STDPRule(
    name="pair",
    code={
        "model": """
w : 1
dr1/dt = -r1 / tau_plus : 1 (event-driven)
do1/dt = -o1 / tau_minus : 1 (event-driven)
""",
        "on_pre": "w -= A2_minus * o1\nr1 += 1",
        "on_post": "w += A2_plus * r1\no1 += 1",
    },
    parameters=DEFAULTS["pair"],
    reference=_reference("pair"),
    harness=_check,
)

TRIPLET_RULE = STDPRule(
    name="triplet",
    code={
        "model": """
w : 1
dr1/dt = -r1 / tau_plus : 1 (event-driven)
dr2/dt = -r2 / tau_x : 1 (event-driven)
do1/dt = -o1 / tau_minus : 1 (event-driven)
do2/dt = -o2 / tau_y : 1 (event-driven)
""",
        # the weight change reads r2 / o2 before this spike's own increment
        "on_pre": "w -= o1 * (A2_minus + A3_minus * r2)\nr1 += 1\nr2 += 1",
        "on_post": "w += r1 * (A2_plus + A3_plus * o2)\no1 += 1\no2 += 1",
    },
    parameters=DEFAULTS["triplet"],
    reference=_reference("triplet"),
    harness=_check,
)

#: Inhibitory STDP of Vogels, Sprekeler, Zenke, Clopath & Gerstner (2011,
#: Science 334:1569): a symmetric window; every presynaptic spike also
#: depresses by ``alpha = 2 rho0 tau_stdp`` (``rho0``: the target rate), so
#: inhibition grows until the postsynaptic rate is ``rho0``.
VOGELS_RULE = STDPRule(
    name="vogels",
    code={
        "model": """
w : 1
dr1/dt = -r1 / tau_stdp : 1 (event-driven)
do1/dt = -o1 / tau_stdp : 1 (event-driven)
""",
        # r1: presynaptic trace, o1: postsynaptic trace, as in the pair rule;
        # alpha written out, so that the code needs the parameters only
        "on_pre": "r1 += 1\nw += eta * (o1 - 2 * rho0 * tau_stdp)",
        "on_post": "o1 += 1\nw += eta * r1",
    },
    parameters=DEFAULTS["vogels"],
    reference=_reference("vogels"),
    harness=_check,
    derive=_vogels_derived,
)

#: The spike-timing rules by name (those a projection's ``plasticity:`` names).
RULES: MappingProxyType[str, STDPRule] = MappingProxyType(
    {rule.name: rule for rule in (PAIR_RULE, TRIPLET_RULE, VOGELS_RULE)}
)
