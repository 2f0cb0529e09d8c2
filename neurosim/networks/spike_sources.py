"""Spike-source populations: neurons that fire at given times (Brian2 ``SpikeGeneratorGroup``).

A population with ``spikes:`` instead of ``model:`` replays spike trains::

    populations:
      pre:
        n: 3
        spikes: {neurons: [0, 2, 0], times: [10 ms, 12 ms, 30 ms]}

Neuron ``neurons[k]`` fires at ``times[k]``. Such a population has no state
variables: stimuli and synapse models cannot target it, and a projection onto
it carries a weight and a plasticity rule only (no ``variable``), which is how
spike-pairing experiments are written (``protocols/stdp_pair.yaml``). Its
spikes can be recorded like any population's.

Spike times are rounded to the population's time step; two spikes of one
neuron in one step are refused (Brian2 would refuse them mid-build).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import brian2
import numpy as np

from neurosim.errors import NeurosimError, excerpt
from neurosim.schema import check_keys, check_list
from neurosim.units import parse_quantity

__all__ = ["MAX_SPIKES", "SpikeSource", "spike_source_from_spec"]

#: Most spikes a spike-source population may hold (8 bytes each, twice).
MAX_SPIKES = 10_000_000


@dataclass(frozen=True, eq=False)
class SpikeSource:
    """A validated spike source: the neuron model interface the builder needs.

    It has no variables, inputs or compartments, so every key that names one
    (stimuli, ``record.variables``, a projection's ``variable``) is refused
    by the same checks that refuse an unknown variable of a neuron model.
    """

    indices: np.ndarray = field(repr=False)
    times: np.ndarray = field(repr=False)
    """Spike times in seconds, one per entry of ``indices``."""
    name: str = "spike_source"
    description: str = "neurons that fire at given times"
    method: str | None = None
    variables: dict = field(default_factory=dict)
    compartments: dict = field(default_factory=dict)
    input_variables: tuple = ()
    spiking: bool = True

    def compartment_of(self, variable: str) -> None:
        """A spike source has no compartments."""
        return None

    def neuron_group(self, n: int, *, name: str, dt=None, **_: Any) -> brian2.SpikeGeneratorGroup:
        """The Brian2 group that replays the spikes (other settings do not apply)."""
        return brian2.SpikeGeneratorGroup(
            n, self.indices, self.times * brian2.second, dt=dt, name=name
        )


def spike_source_from_spec(spec: Any, n: int, dt, duration, where: str) -> SpikeSource:
    """Validate ``spikes: {neurons: [...], times: [...]}`` of a population of ``n``.

    Parameters
    ----------
    spec : mapping
        The population's ``spikes`` setting.
    n : int
        Population size: every index is in ``0 .. n - 1``.
    dt : Quantity
        The population's time step (spike times are rounded to it).
    duration : Quantity or None
        Every spike must fall before the end of the run.
    where : str
        Location prefix for errors.
    """
    check_keys(spec, where, ("neurons", "times"))
    neurons = check_list(
        spec["neurons"], f"{where}.neurons", "a list of neuron indices", MAX_SPIKES
    )
    seconds = _times(spec["times"], f"{where}.times")
    if len(neurons) != len(seconds):
        raise NeurosimError(
            f"{where}: {len(neurons)} neuron indices for {len(seconds)} spike times "
            "(one index per spike)"
        )
    for k, i in enumerate(neurons):
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < n:
            raise NeurosimError(
                f"{where}.neurons[{k}]: expected a neuron index in 0..{n - 1}, got {excerpt(i)}"
            )
    indices = np.asarray(neurons, dtype=np.int64)
    if len(seconds) and not np.all(np.isfinite(seconds)):
        raise NeurosimError(f"{where}.times: spike times have to be finite")
    if len(seconds) and seconds.min() < 0:
        raise NeurosimError(f"{where}.times: spike times have to be >= 0")
    if duration is not None and len(seconds) and seconds.max() >= float(duration):
        raise NeurosimError(
            f"{where}.times: a spike at {seconds.max():g} s is not before the end of the run"
        )
    steps = np.round(seconds / float(dt)).astype(np.int64)
    pairs = np.unique(np.stack([indices, steps]), axis=1) if len(steps) else steps
    if pairs.shape[-1] != len(steps):
        raise NeurosimError(
            f"{where}.times: a neuron fires twice in one time step of {dt} (Brian2 refuses that)"
        )
    return SpikeSource(indices, steps * float(dt))


def _times(value: Any, where: str) -> np.ndarray:
    """Spike times in seconds: a list of quantities, or ``{unit: ms, values: [...]}``.

    The second form reads long trains fast (one unit, plain numbers).
    """
    if isinstance(value, dict):
        check_keys(value, where, ("unit", "values"))
        if not isinstance(value["unit"], str):
            raise NeurosimError(f"{where}.unit: expected a time unit, got {excerpt(value['unit'])}")
        unit = parse_quantity(f"1 {value['unit']}", f"{where}.unit", brian2.second)
        numbers = check_list(value["values"], f"{where}.values", "a list of numbers", MAX_SPIKES)
        for k, x in enumerate(numbers):
            if not isinstance(x, int | float) or isinstance(x, bool):
                raise NeurosimError(f"{where}.values[{k}]: expected a number, got {excerpt(x)}")
        return np.asarray(numbers, dtype=float) * float(unit)
    times = check_list(value, where, "a list of spike times or {unit, values}", MAX_SPIKES)
    return np.array(
        [float(parse_quantity(t, f"{where}[{k}]", brian2.second)) for k, t in enumerate(times)],
        dtype=float,
    )
