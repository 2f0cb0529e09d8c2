"""Scaling a network down (or up): fewer neurons and in-degrees, the same mean input.

A simulation protocol may set ``scale`` (default 1): every population's ``n``
and every in-degree are multiplied by it, as the ``N_scaling`` and
``K_scaling`` of NEST's cortical microcircuit example (both the same here), so
that a network of 0.3 billion synapses can be tried in seconds at 0.1:

- ``n`` of each population becomes ``round(scale n)``;
- connectors: ``fixed_indegree`` and ``fixed_outdegree`` counts become
  ``round(scale k)``, ``fixed_total_number`` ``round(scale^2 n)`` (fewer
  targets, each with fewer inputs); rules whose in-degree follows the source's
  size (``fixed_probability``, ``total_from_probability``, ``all_to_all``,
  ``distance``) are left as they are; ``from_file`` cannot scale;
- ``poisson`` stimuli: ``n_inputs`` becomes ``round(scale n_inputs)``.

Without more, the mean input of every neuron falls with its in-degree. A
``scaling:`` section keeps the mean and the variance of the input as van
Albada, Helias & Diesmann (2015) do, and NEST's example with them:

.. code-block:: yaml

    scaling:
      rates: {L23e: 0.903 Hz, ...}   # the full-scale network's mean rates
      variable: I                    # the input current that takes the DC

- every weight (projections and Poisson stimuli) is divided by
  ``sqrt(scale)``, which keeps the input's variance;
- each target population gets a DC current into ``variable``:
  ``(1 - sqrt(scale)) x sum over inputs of rate x charge x mean weight x
  K``, the mean input that scaling took away (in-degrees times ``scale``,
  weights over ``sqrt(scale)``), where ``charge`` is the synapse model's
  integral of the current per unit weight (``tau`` for ``exp_current``),
  ``rate`` the source population's full-scale rate from ``rates`` (a Poisson
  stimulus's own rate) and ``K`` the full-scale mean in-degree: NEST's
  ``0.001 tau_syn (1 - sqrt(K_scaling)) sum(PSC K rate)``, which takes the
  in-degrees as scaled exactly (rounding the populations moves the actual
  in-degrees by up to 0.5 %). ``one_to_one`` cannot be compensated (its
  in-degree stays 1).

:func:`scale_data` rewrites the protocol's data before it is validated, so
that every check (connector sizes, memory estimate) sees the scaled network;
the data a recording keeps is the one the user wrote, with ``scale``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import brian2
import numpy as np

from neurosim.errors import NeurosimError, excerpt
from neurosim.networks.connectors import connector_from_spec, expected_synapses
from neurosim.schema import check_keys, check_mapping, check_number, check_str, key_text
from neurosim.units import format_quantity, parse_quantity

__all__ = ["MAX_SCALE", "SCALING_KEYS", "scale_data"]

#: Largest ``scale`` (the memory estimate refuses most networks long before).
MAX_SCALE = 100.0

#: Keys of the ``scaling:`` section.
SCALING_KEYS = ("rates", "variable")

# Connector counts that scale: the key and the power of ``scale`` it takes.
_COUNTS = {"fixed_indegree": ("indegree", 1), "fixed_outdegree": ("outdegree", 1)}
_COUNTS["fixed_total_number"] = ("n", 2)


def scale_data(data: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The protocol data at its ``scale``, and what scaling did.

    Parameters
    ----------
    data : dict
        A simulation protocol's data (after ``--set`` overrides).
    where : str
        The protocol's location, for errors.

    Returns
    -------
    (dict, dict)
        The scaled data (``data`` itself when ``scale`` is 1 and there is no
        ``scaling:``) and a report: ``scale``, and ``dc`` (amperes per
        population) when the input was compensated.

    Raises
    ------
    NeurosimError
        One line naming the key: a scale that is not a number in (0, 100], a
        population left without neurons, a count left at zero, a connector or
        stimulus that cannot scale, a missing rate.
    """
    raw = data.get("scale", 1)
    scale = check_number(raw, f"{where}: scale", "a number in (0, 100]")
    if not (math.isfinite(scale) and 0 < scale <= MAX_SCALE):
        raise NeurosimError(f"{where}: scale: has to be in (0, {MAX_SCALE:g}], got {excerpt(raw)}")
    section = data.get("scaling")
    if section is not None:
        check_keys(section, f"{where}: scaling", SCALING_KEYS)
    if scale == 1:
        return data, {"scale": 1.0}
    out = copy.deepcopy(data)
    full_sizes = _scale_populations(out, scale, where)
    sizes = {n: pop["n"] for n, pop in _mapping(out.get("populations")) if isinstance(pop, dict)}
    in_degree = {}  # projection -> full-scale mean in-degree
    for name, proj in _mapping(out.get("projections")):
        key = f"{where}: projections.{key_text(name)}"
        if not isinstance(proj, dict) or not isinstance(proj.get("connector"), dict | str):
            continue  # the validation names the problem
        full = connector_from_spec(proj["connector"], f"{key}.connector")
        if full.rule == "from_file":
            raise NeurosimError(
                f"{key}.connector: a file's synapses cannot scale (scale {scale:g})"
            )
        if full.rule in _COUNTS:
            count, power = _COUNTS[full.rule]
            value = getattr(full, count)
            scaled = round(value * scale**power)
            if value and scaled < 1:
                raise NeurosimError(
                    f"{key}.connector.{count}: scale {scale:g} leaves {value} x {scale:g}"
                    f"{'^2' if power == 2 else ''} < 1 synapses"
                )
            spec = proj["connector"]
            spec[count] = scaled
        src, tgt = proj.get("source"), proj.get("target")
        if src in sizes and tgt in sizes:
            if full.rule == "one_to_one" and "scaling" in data:
                raise NeurosimError(
                    f"{key}.connector: one_to_one keeps its in-degree of 1, so the input it "
                    "gives cannot be compensated when scaled"
                )
            same = src == tgt
            in_degree[name] = (
                expected_synapses(full, full_sizes[src], full_sizes[tgt], same) / full_sizes[tgt]
            )
    stimuli = out.get("stimuli") if isinstance(out.get("stimuli"), list) else []
    poisson_full = {}
    for k, stim in enumerate(stimuli):
        if isinstance(stim, dict) and stim.get("kind") == "poisson" and "n_inputs" in stim:
            full = stim["n_inputs"]
            if isinstance(full, int) and not isinstance(full, bool):
                stim["n_inputs"] = round(full * scale)
                if stim["n_inputs"] < 1:
                    raise NeurosimError(
                        f"{where}: stimuli[{k}].n_inputs: scale {scale:g} leaves {full} x "
                        f"{scale:g} < 1 inputs"
                    )
                poisson_full[k] = full
    report: dict[str, Any] = {"scale": float(scale)}
    if section is not None:
        report["dc"] = _compensate(out, section, scale, in_degree, poisson_full, where)
    return out, report


def _mapping(value: Any) -> list[tuple[Any, Any]]:
    """The items of a mapping section; none if it is malformed (validation names that)."""
    return list(value.items()) if isinstance(value, dict) else []


def _scale_populations(out: dict, scale: float, where: str) -> dict[str, int]:
    """Scale every population's ``n`` in place; return the full sizes."""
    full_sizes = {}
    for name, pop in _mapping(out.get("populations")):
        key = f"{where}: populations.{key_text(name)}"
        if not isinstance(pop, dict) or not isinstance(pop.get("n"), int):
            continue  # the validation names the problem
        if "spikes" in pop:
            raise NeurosimError(f"{key}: a spike source's trains cannot scale (scale {scale:g})")
        full_sizes[name] = pop["n"]
        pop["n"] = round(pop["n"] * scale)
        if pop["n"] < 1:
            raise NeurosimError(
                f"{where}: scale: {scale:g} leaves population {name!r} of {full_sizes[name]} "
                "with no neuron"
            )
    return full_sizes


def _compensate(
    out: dict, section: Any, scale: float, in_degree: dict, poisson_full: dict, where: str
) -> dict[str, float]:
    """Divide the weights by sqrt(scale) and add the DC that keeps each target's mean input."""
    from neurosim.networks.projections import synapse_from_spec

    at = f"{where}: scaling"
    check_mapping(section, at)
    if "variable" not in section or "rates" not in section:
        raise NeurosimError(f"{at}: needs 'rates' (full-scale, per population) and 'variable'")
    variable = check_str(section["variable"], f"{at}.variable", "an input variable name", 100)
    rates = {
        name: float(parse_quantity(rate, f"{at}.rates.{key_text(name)}", brian2.Hz))
        for name, rate in check_mapping(section["rates"], f"{at}.rates").items()
    }
    root = math.sqrt(scale)
    dc: dict[str, float] = {}
    # (key, spec, source population or None for a Poisson stimulus, full-scale in-degree)
    inputs = [
        (f"{where}: projections.{key_text(name)}", proj, proj.get("source"), in_degree.get(name))
        for name, proj in _mapping(out.get("projections"))
    ]
    inputs += [
        (f"{where}: stimuli[{k}]", out["stimuli"][k], None, full)
        for k, full in sorted(poisson_full.items())
    ]
    for key, spec, source, k_full in inputs:
        if not isinstance(spec, dict):
            continue
        if "plasticity" in spec:
            raise NeurosimError(f"{key}.plasticity: a plastic projection's weights cannot scale")
        synapse, params, _ = synapse_from_spec(spec.get("synapse"), f"{key}.synapse")
        if synapse is None:
            raise NeurosimError(
                f"{key}.synapse: keeping the mean input needs a synapse model with a "
                "'charge' (a delta synapse's jump has none)"
            )
        charge = synapse.charge_per_weight(params, f"{key}.synapse")
        mean = _scale_weight(spec, root, f"{key}.weight")
        if source is None:  # a Poisson stimulus: its own rate
            rate = float(parse_quantity(spec.get("rate"), f"{key}.rate", brian2.Hz))
        elif source in rates:
            rate = rates[source]
        else:
            name = key.rsplit(".", 1)[-1]
            raise NeurosimError(f"{at}.rates: no full-scale rate of {source!r} ({name})")
        target = spec.get("population") if source is None else spec.get("target")
        # NEST's example: the in-degree scaled by `scale` exactly, the weight by 1/sqrt(scale)
        dc[target] = dc.get(target, 0.0) + (1 - root) * rate * charge * mean * (k_full or 0.0)
    stimuli = out.setdefault("stimuli", [])
    for target, amplitude in dc.items():
        stimuli.append(
            {
                "kind": "current_step",
                "population": target,
                "variable": variable,
                "amplitude": format_quantity(amplitude * brian2.amp),
            }
        )
    return dc


def _scale_weight(spec: dict, root: float, where: str) -> float:
    """Divide ``spec['weight']`` by ``root`` in place; return the full-scale mean (SI)."""
    weight = spec.get("weight")
    if isinstance(weight, dict):
        if "distribution" not in weight:
            raise NeurosimError(
                f"{where}: only a quantity or a distribution can scale, not {excerpt(weight)}"
            )
        params = {}
        for key, value in weight.items():
            if key != "distribution":
                params[key] = parse_quantity(value, f"{where}.{key}")
                weight[key] = format_quantity(params[key] / root)
        kind = weight["distribution"]
        if kind == "uniform" and "low" in params and "high" in params:
            return float(np.asarray(params["low"] + params["high"])) / 2
        if "mean" not in params:
            raise NeurosimError(f"{where}: a {excerpt(kind)} distribution needs a mean")
        return float(np.asarray(params["mean"]))
    value = parse_quantity(weight, where)
    spec["weight"] = format_quantity(value / root)
    return float(np.asarray(value))
