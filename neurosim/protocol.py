"""Protocols as data: load, override (``--set``) and validate experiment files.

A protocol file (``protocols/*.yaml``) says which models and how many neurons,
the stimuli, the duration, what to record, the analyses, the seed, the Brian2
target and the outputs. Every section is checked here, before anything is
built, so that a typo in a key or a unit is one line naming the file, the key
and the value.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brian2
import numpy as np
import yaml
from brian2 import Quantity

from neurosim.errors import NeurosimError, excerpt
from neurosim.memory import require_memory
from neurosim.model import NeuronModel, check_method_name, find_model, load_model
from neurosim.networks.positions import check_positions
from neurosim.networks.projections import (
    check_projections,
    check_receptors,
    synapse_count,
    synapse_from_spec,
)
from neurosim.networks.scaling import scale_data
from neurosim.networks.spike_sources import SpikeSource, spike_source_from_spec
from neurosim.networks.synapses import input_potential
from neurosim.schema import (
    check_bool,
    check_identifier,
    check_int,
    check_keys,
    check_list,
    check_mapping,
    check_name,
    check_number,
    check_population,
    check_seed,
    check_str,
    describe_files,
    find_file,
    key_text,
    load_yaml_text,
    read_yaml,
)
from neurosim.units import parse_quantity

__all__ = [
    "ANALYSIS_REQUIRED",
    "KIND_SECTIONS",
    "MAX_NEURONS",
    "MAX_STEPS",
    "PROTOCOLS_DIR",
    "TARGETS",
    "Protocol",
    "Record",
    "Stimulus",
    "apply_overrides",
    "check_memory",
    "estimate_memory",
    "find_protocol",
    "list_protocols",
    "load_protocol",
    "protocol_from_data",
]

#: Where the shipped protocols live (the repository's ``protocols/`` folder).
PROTOCOLS_DIR = Path(__file__).resolve().parent.parent / "protocols"

#: Brian2 code-generation targets a protocol may ask for.
TARGETS = ("numpy", "cython", "cpp_standalone")

# What a simulation reads besides the common keys.
_SIMULATION = (
    "dt",
    "duration",
    "populations",
    "projections",
    "stimuli",
    "record",
    "analysis",
    "scale",
    "scaling",
)
_TOP_REQUIRED = ("name", "description", "seed")
_TOP_OPTIONAL = ("kind", "target", "output", "notes", "training", *_SIMULATION)

#: Sections each protocol kind reads; a section it would ignore is refused.
#: Kinds not listed (learning kinds) read ``training`` only.
KIND_SECTIONS = {
    "simulation": _SIMULATION,
    "stdp_pairing": ("dt", "training"),
}

# Sections that only some protocol kinds read (the rest are common to all).
_SECTIONS = {"training", *(s for sections in KIND_SECTIONS.values() for s in sections)}

#: Most neurons in one population (the memory estimate usually refuses far fewer).
MAX_NEURONS = 10**9

#: Most time steps (duration / dt) of a run.
MAX_STEPS = 10**9

# Bytes per value of Brian2's numpy code: a few temporaries per state array.
_CODE_FACTOR = 3
# Bytes per synapse at the run's peak: measured on the full-scale cortical
# microcircuit (0.3 billion synapses, cpp_standalone): the binary about 63
# (indices, weight, delay, spike queue) while Python keeps its pairs (8), and
# Python's own peak while drawing was 55.
_SYNAPSE_BYTES = 72

#: Keys of each stimulus kind: (required, optional).
STIMULUS_KEYS = {
    "current_step": (("population", "variable", "amplitude"), ("start", "stop", "neurons")),
    "current_ramp": (("population", "variable", "amplitude"), ("start", "stop", "neurons")),
    "current_alpha": (("population", "variable", "amplitude", "onset", "tau"), ("neurons",)),
    "current_epsc": (
        ("population", "variable", "amplitude", "onset", "tau_rise", "tau_decay"),
        ("neurons",),
    ),
    "poisson": (("population", "variable", "rate", "n_inputs", "weight"), ("synapse",)),
    # One Poisson source per pixel, rate max_rate * intensity, one image per presentation.
    "dataset_poisson": (
        ("population", "variable", "dataset", "weight", "presentation"),
        ("split", "images", "max_rate", "connect_p"),
    ),
}

#: Known data sets a ``dataset_poisson`` stimulus can present by name (also: a path or a
#: mapping, see :mod:`neurosim.datasets.labelled`).
DATASETS = (
    "mnist_subset",
    "mnist",
    "fashion_mnist",
    "kmnist",
    "emnist_balanced",
    "emnist_letters",
    "emnist_digits",
)


@dataclass(frozen=True)
class Stimulus:
    """One validated stimulus (see ``STIMULUS_KEYS`` for the kinds)."""

    kind: str
    population: str
    variable: str
    spec: dict[str, Any]
    where: str
    synapse: Any = None
    """A ``poisson`` stimulus's synapse model (None: it adds its weight to ``variable``)."""
    synapse_params: dict[str, Any] = field(default_factory=dict, compare=False)
    receptor: str | None = None
    index: int = 0
    """Its place in ``stimuli`` (names its own synapse state)."""

    @property
    def target(self) -> str:
        """The population it drives (as a projection's ``target``)."""
        return self.population

    @property
    def state_key(self) -> str:
        """Suffix of the synapse state it feeds: its receptor, or its own."""
        return self.receptor or f"stimuli{self.index}"


@dataclass(frozen=True)
class Record:
    """What to record from one population."""

    name: str
    population: str
    variables: list[str]
    neurons: list[int] | bool
    dt: Quantity
    spikes: bool
    #: names of the recorded neurons (a condition each, say), for legends and ticks
    labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Protocol:
    """A validated protocol. Use :func:`load_protocol`."""

    name: str
    description: str
    kind: str
    seed: int
    target: str
    dt: Quantity
    duration: Quantity | None
    populations: dict[str, dict[str, Any]]
    models: dict[str, NeuronModel]
    stimuli: list[Stimulus]
    records: list[Record]
    analysis: list[dict[str, Any]]
    output: dict[str, Any]
    data: dict[str, Any]
    path: Path | None = None
    overrides: list[str] = field(default_factory=list)
    projections: list = field(default_factory=list)
    """Validated :class:`neurosim.networks.projections.Projection` s."""
    scaling: dict[str, Any] = field(default_factory=dict)
    """What ``scale`` did (:func:`~neurosim.networks.scaling.scale_data`): scale, DC added."""

    @property
    def text(self) -> str:
        """The effective protocol (after ``--set`` overrides) as YAML text."""
        return yaml.safe_dump(self.data, sort_keys=False)

    def where(self, key: str) -> str:
        """Location prefix for error messages about ``key``."""
        return f"{self.path or self.name}: {key}"

    @property
    def finest_dt(self) -> Quantity:
        """The smallest time step of the protocol and its populations."""
        return min([self.dt] + [p["dt"] for p in self.populations.values() if "dt" in p])


def find_protocol(name: str | Path) -> Path:
    """Resolve a protocol name (``"smoke_passive"``) or path to the protocol file's path."""
    return find_file(name, PROTOCOLS_DIR)


def list_protocols(directory: Path = PROTOCOLS_DIR) -> list[tuple[str, str]]:
    """Return ``(name, description)`` of every protocol file in ``directory``."""
    return describe_files(directory)


def apply_overrides(data: dict[str, Any], overrides: list[str], where: str) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values in YAML syntax) to a copy of ``data``.

    List items are addressed by index (``stimuli.0.amplitude=200 pA``). The
    last key may be new (an optional setting); every key before it must exist.
    Values are read with the same loader as the files, so ``1e-3`` is the
    number 0.001 (plain YAML 1.1 would read it as a string).
    """
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise NeurosimError(f"--set {excerpt(item)}: expected key=value")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        label = f"--set {excerpt(key.strip())}"
        value = load_yaml_text(text, label)
        node: Any = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise NeurosimError(
                        f"--set {excerpt(item)}: {where} has no item {'.'.join(parts[: depth + 1])}"
                    )
                index: Any = int(part)
            elif isinstance(node, dict):
                if part not in node and not last:
                    raise NeurosimError(
                        f"--set {excerpt(item)}: {where} has no key "
                        f"{'.'.join(parts[: depth + 1])!r}"
                    )
                index = part
            else:
                raise NeurosimError(
                    f"--set {excerpt(item)}: {'.'.join(parts[:depth])!r} is not a section"
                )
            if last:
                node[index] = value
            else:
                node = node[index]
    return data


def load_protocol(path: str | Path, overrides: list[str] | None = None) -> Protocol:
    """Load, override and validate a protocol file.

    The whole file is checked before anything is built: the type and range
    of every key, the models it names, the sections its kind reads, and (for
    a simulation) an estimate of the memory the run needs against the memory
    available (:func:`estimate_memory`).

    Parameters
    ----------
    path : str or Path
        A ``.yaml`` file or the name of a shipped protocol.
    overrides : list of str, optional
        ``key=value`` settings applied before validation (the CLI's ``--set``).

    Returns
    -------
    Protocol

    Raises
    ------
    NeurosimError
        On any problem with the file, naming the file, the key and the value.
    """
    path = find_protocol(path)
    raw, _ = read_yaml(path, "protocol")
    return protocol_from_data(raw, path, overrides)


def protocol_from_data(
    raw: dict[str, Any], path: str | Path, overrides: list[str] | None = None
) -> Protocol:
    """Override and validate protocol data as :func:`load_protocol` does a file's.

    ``path`` names the data in errors and places relative paths (model and
    connector files); it need not exist. Kinds that expand their own section
    into a network (``stdp_pairing``) build their simulation protocol with it.
    """
    path = Path(path)
    overrides = list(overrides or [])
    data = apply_overrides(raw, overrides, str(path))
    where = str(path)
    check_keys(data, where, _TOP_REQUIRED, _TOP_OPTIONAL)
    name = check_name(data["name"], f"{where}: name")
    description = check_str(data["description"], f"{where}: description", "a one-line string")
    check_str(_get(data, "notes", ""), f"{where}: notes")
    seed = check_seed(data["seed"], f"{where}: seed")
    kind = check_str(data.get("kind", "simulation"), f"{where}: kind", "a protocol kind", 100)
    from neurosim.kinds import PROTOCOL_KINDS, register_all

    register_all()

    if kind not in PROTOCOL_KINDS:
        raise NeurosimError(
            f"{where}: kind: unknown protocol kind {excerpt(kind)} "
            f"(known: {', '.join(sorted(PROTOCOL_KINDS))})"
        )
    sections = KIND_SECTIONS.get(kind, ("training",))
    for key in data:
        if key in _SECTIONS and key not in sections:
            raise NeurosimError(
                f"{where}: {key}: a {kind!r} protocol has no {key!r} section "
                f"(its sections: {', '.join(sections) or 'none'})"
            )
    target = data.get("target", "numpy")
    if not isinstance(target, str) or target not in TARGETS:
        raise NeurosimError(
            f"{where}: target: unknown Brian2 target {excerpt(target)} (use {', '.join(TARGETS)})"
        )
    if "training" in data:
        check_mapping(data["training"], f"{where}: training")
    written = data
    scaling: dict[str, Any] = {}
    if kind == "simulation":
        # every check below sees the scaled network; the recording keeps what was written
        data, scaling = scale_data(data, where)
    output = _check_output(_get(data, "output", {}), f"{where}: output")
    dt = _time(data.get("dt", "0.1 ms"), f"{where}: dt", positive=True)
    duration = None
    if kind == "simulation":
        if data.get("duration") is None:
            raise NeurosimError(f"{where}: duration: a simulation needs a duration")
        duration = _time(data["duration"], f"{where}: duration", positive=True)
        if dt > duration:
            raise NeurosimError(
                f"{where}: dt: {excerpt(data.get('dt'))} is longer than the duration "
                f"{excerpt(data['duration'])}"
            )
        _check_steps(duration, dt, f"{where}: dt")

    populations, models = _check_populations(
        _get(data, "populations", {}), duration, dt, path.parent, where
    )
    if kind == "simulation" and not populations:
        raise NeurosimError(f"{where}: populations: a simulation needs at least one population")
    for pop in scaling.get("dc", {}):
        # the compensating DC is a stimulus the user did not write: name the key they did
        variable = data["scaling"]["variable"]
        if pop in models and variable not in models[pop].input_variables:
            raise NeurosimError(
                f"{where}: scaling.variable: {excerpt(variable)} is not an input variable of "
                f"{pop!r} (model {models[pop].name!r}: {', '.join(models[pop].input_variables)})"
            )
    projections = check_projections(
        _get(data, "projections", {}), populations, models, dt, where, path.parent, seed
    )
    stimuli = [
        _check_stimulus(spec, k, populations, models, duration, where)
        for k, spec in enumerate(check_list(_get(data, "stimuli", []), f"{where}: stimuli"))
    ]
    check_receptors(
        [
            (
                p.target,
                p.receptor,
                p.synapse,
                p.synapse_params,
                p.variable,
                where + ": projections." + p.name,
            )
            for p in projections
            if p.synapse is not None
        ]
        + [
            (s.target, s.receptor, s.synapse, s.synapse_params, s.variable, s.where)
            for s in stimuli
            if s.synapse is not None
        ]
    )
    records = [
        _check_record(spec, k, populations, models, dt, duration, where)
        for k, spec in enumerate(check_list(_get(data, "record", []), f"{where}: record"))
    ]
    seen: set[str] = set()
    for rec in records:
        if rec.name in seen:
            raise NeurosimError(
                f"{where}: record: two records named {rec.name!r} (give each a 'name')"
            )
        seen.add(rec.name)
    analysis = [
        _check_analysis(spec, k, records, models, duration, where)
        for k, spec in enumerate(check_list(_get(data, "analysis", []), f"{where}: analysis"))
    ]
    _check_object_names(populations, stimuli, records, where, [p.name for p in projections])
    protocol = Protocol(
        name=name,
        description=description,
        kind=kind,
        seed=seed,
        target=target,
        dt=dt,
        duration=duration,
        populations=populations,
        models=models,
        stimuli=stimuli,
        records=records,
        analysis=analysis,
        output=dict(output),
        data=written,
        path=path,
        overrides=overrides,
        projections=projections,
        scaling=scaling,
    )
    if kind == "simulation":
        check_memory(protocol)
    return protocol


def _get(data: dict[str, Any], key: str, default: Any) -> Any:
    """``data[key]``, or ``default`` where the key is missing or empty (``key:``)."""
    value = data.get(key)
    return default if value is None else value


def _time(value: Any, where: str, positive: bool = False, low=None, high=None) -> Quantity:
    """A finite time; ``> 0`` if ``positive``; within ``low <= t <= high`` if given."""
    t = parse_quantity(value, where, brian2.second)
    if positive and t <= 0 * brian2.second:
        raise NeurosimError(f"{where}: has to be > 0, got {excerpt(value)}")
    if low is not None and t < low:
        raise NeurosimError(f"{where}: has to be >= {low}, got {excerpt(value)}")
    if high is not None and t > high:
        raise NeurosimError(f"{where}: has to be <= {high}, got {excerpt(value)}")
    return t


def _check_steps(duration: Quantity, dt: Quantity, where: str) -> None:
    """Refuse more than :data:`MAX_STEPS` time steps."""
    steps = float(duration / dt)
    if steps > MAX_STEPS:
        raise NeurosimError(
            f"{where}: {steps:.3g} time steps (duration / dt) is more than the limit of "
            f"{MAX_STEPS:.0e}"
        )


def _check_output(spec: Any, where: str) -> Mapping[str, Any]:
    output = check_keys(spec, where, (), ("name", "formats", "plots"))
    if "name" in output:
        check_name(output["name"], f"{where}.name")
    from neurosim.plotting import PLOTS

    for key, known in (("formats", ("netcdf", "zarr")), ("plots", tuple(PLOTS))):
        items = check_list(output.get(key, []), f"{where}.{key}", f"a list of {key}", 100)
        for item in items:
            if not isinstance(item, str) or item not in known:
                raise NeurosimError(
                    f"{where}.{key}: unknown {key[:-1]} {excerpt(item)} (use {', '.join(known)})"
                )
            if items.count(item) > 1:
                raise NeurosimError(f"{where}.{key}: {item!r} is listed twice")
    return output


def _check_populations(spec: Any, duration, dt, folder: Path, where: str):
    populations: dict[str, dict[str, Any]] = {}
    models: dict[str, NeuronModel] = {}
    check_mapping(spec, f"{where}: populations", "a mapping of population name to settings")
    for name, pop in spec.items():
        key = f"{where}: populations.{key_text(name)}"
        check_identifier(name, key, "population name")
        if isinstance(pop, dict) and "spikes" in pop:
            # a spike source replays given spike trains (no model, no state)
            check_keys(pop, key, ("spikes", "n"), ("dt", "positions"))
            n = check_int(pop["n"], f"{key}.n", 1, MAX_NEURONS)
            step = _time(pop["dt"], f"{key}.dt", positive=True) if "dt" in pop else dt
            models[name] = spike_source_from_spec(pop["spikes"], n, step, duration, f"{key}.spikes")
            populations[name] = _population_settings(pop, n, duration, key)
            continue
        check_keys(pop, key, ("model", "n"), ("params", "initial", "method", "dt", "positions"))
        model_name = check_str(pop["model"], f"{key}.model", "a model name or file", 1000)
        model_path = find_model(model_name)
        beside = folder / model_name
        if (
            model_path.suffix in (".yaml", ".yml")
            and not model_path.is_absolute()
            and beside.is_file()
        ):
            # a model file path is read relative to the protocol file's folder first
            model_path = beside
        if not model_path.is_file():
            raise NeurosimError(
                f"{key}.model: no model {excerpt(model_name)} "
                f"(looked for {key_text(str(model_path))})"
            )
        models[name] = model = load_model(model_path)
        n = check_int(pop["n"], f"{key}.n", 1, MAX_NEURONS)
        model.check_params(pop.get("params"), n, key)
        model.initial_values(pop.get("initial"), key, n)
        method = pop.get("method")
        check_method_name(method, f"{key}.method")
        if method is not None and method != model.method:
            model.check_method(method, f"{key}.method")
        populations[name] = _population_settings(pop, n, duration, key)
    return populations, models


def _population_settings(pop: dict, n: int, duration, key: str) -> dict[str, Any]:
    """A population's settings with its positions and time step checked."""
    settings = dict(pop)
    if "positions" in pop:
        settings["positions"] = check_positions(pop["positions"], n, f"{key}.positions")
    if "dt" in pop:
        # a population may need a finer step than the protocol (fast channels)
        settings["dt"] = _time(pop["dt"], f"{key}.dt", positive=True)
        if duration is not None:
            _check_steps(duration, settings["dt"], f"{key}.dt")
    return settings


def _check_stimulus(spec: Any, k: int, populations, models, duration, where: str) -> Stimulus:
    key = f"{where}: stimuli[{k}]"
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if not isinstance(kind, str) or kind not in STIMULUS_KEYS:
        raise NeurosimError(
            f"{key}.kind: unknown stimulus kind {excerpt(kind)} (known: {', '.join(STIMULUS_KEYS)})"
        )
    required, optional = STIMULUS_KEYS[kind]
    check_keys(spec, key, ("kind", *required), optional)
    pop = check_population(spec["population"], populations, f"{key}.population")
    model = models[pop]
    variable = _variable(spec["variable"], model, f"{key}.variable")
    dim = model.variables[variable].dimension
    synapse, synapse_params, receptor = synapse_from_spec(spec.get("synapse"), f"{key}.synapse")
    if synapse is not None:
        # Poisson input through a synapse model: n_inputs independent sources, as a projection
        synapse.added_variable(f"{key}.synapse")
        if variable not in model.input_variables or dim is not brian2.amp.dim:
            raise NeurosimError(
                f"{key}.variable: {variable!r} is not an input current of model "
                f"{model.name!r}, which synapse model {synapse.name!r} needs"
            )
        input_potential(model, variable)
        dim = synapse.weight.dim
    if not kind.endswith("poisson") and variable not in model.input_variables:
        raise NeurosimError(
            f"{key}.variable: {variable!r} is not an input variable of model "
            f"{model.name!r} (inputs: {', '.join(model.input_variables)})"
        )
    n = populations[pop]["n"]
    parsed: dict[str, Any] = {}
    for name, value in spec.items():
        at = f"{key}.{name}"
        if name in ("kind", "population", "variable", "synapse"):
            continue
        if name == "weight":
            parsed[name] = parse_quantity(value, at, dim)
        elif name == "amplitude":
            parsed[name] = _amplitudes(value, dim, n, at)
        elif name in ("start", "stop", "onset"):
            parsed[name] = _time(value, at, low=0 * brian2.second, high=duration)
        elif name in ("tau", "tau_rise", "tau_decay", "presentation"):
            parsed[name] = _time(value, at, positive=True)
        elif name in ("rate", "max_rate"):
            parsed[name] = parse_quantity(value, at, brian2.Hz)
            if parsed[name] < 0 * brian2.Hz or (name == "max_rate" and parsed[name] == 0):
                sign = ">" if name == "max_rate" else ">="
                raise NeurosimError(f"{at}: has to be {sign} 0, got {excerpt(value)}")
        elif name in ("n_inputs", "images"):
            parsed[name] = check_int(value, at, 1, 10**7)
        elif name == "dataset":
            from neurosim.datasets import data_spec

            parsed[name] = data_spec(value, at)
        elif name == "split":
            if not isinstance(value, str) or value not in ("train", "test"):
                raise NeurosimError(f"{at}: expected 'train' or 'test', got {excerpt(value)}")
            parsed[name] = value
        elif name == "connect_p":
            p = check_number(value, at, "a probability in (0, 1]")
            if not 0 < p <= 1:
                raise NeurosimError(f"{at}: expected a probability in (0, 1], got {excerpt(value)}")
            parsed[name] = value
        elif name == "neurons":
            parsed[name] = _neurons(value, n, at)
    start = parsed.get("start", 0 * brian2.second)
    stop = parsed.get("stop", duration)
    if stop is not None and start >= stop:
        raise NeurosimError(
            f"{key}.start: has to be before stop, got start {excerpt(spec.get('start', 0))} "
            f"and stop {excerpt(spec.get('stop', 'end'))}"
        )
    if "onset" in parsed and duration is not None and parsed["onset"] >= duration:
        raise NeurosimError(f"{key}.onset: has to be before the end of the run")
    if kind == "current_epsc" and parsed["tau_rise"] >= parsed["tau_decay"]:
        raise NeurosimError(f"{key}.tau_rise: has to be shorter than tau_decay")
    return Stimulus(kind, pop, variable, parsed, key, synapse, synapse_params, receptor, k)


def _variable(value: Any, model: NeuronModel, where: str) -> str:
    if not isinstance(value, str) or value not in model.variables:
        raise NeurosimError(f"{where}: {excerpt(value)} is not a variable of model {model.name!r}")
    return value


def _amplitudes(value: Any, dim, n: int, where: str):
    """A shared amplitude, a list of ``n`` per-neuron values, or ``{linspace: [a, b]}``."""
    if isinstance(value, dict):
        check_keys(value, where, ("linspace",))
        ends = check_list(value["linspace"], f"{where}.linspace", "a list [first, last]")
        if len(ends) != 2:
            raise NeurosimError(f"{where}.linspace: expected [first, last], got {excerpt(ends)}")
        a, b = (parse_quantity(v, f"{where}.linspace", dim) for v in ends)
        return a + (b - a) * np.linspace(0.0, 1.0, n)
    if isinstance(value, list):
        if len(value) != n:
            raise NeurosimError(f"{where}: {len(value)} values given for {n} neurons")
        return [parse_quantity(v, f"{where}[{k}]", dim) for k, v in enumerate(value)]
    return parse_quantity(value, where, dim)


def _neurons(value: Any, n: int, where: str) -> list[int] | bool:
    """``'all'`` (or ``true``) or a list of distinct neuron indices.

    A bare integer is refused: YAML reads ``1`` as equal to ``true``, and
    ``neurons: 1`` was once taken to mean every neuron.
    """
    if value is True or (isinstance(value, str) and value == "all"):
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        raise NeurosimError(
            f"{where}: expected 'all' or a list of neuron indices, got {excerpt(value)} "
            f"(write [{value}] for neuron {value})"
        )
    check_list(value, where, "'all' or a list of neuron indices", max_length=n)
    for v in value:
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < n:
            raise NeurosimError(f"{where}: neuron index {excerpt(v)} out of range 0..{n - 1}")
    if len(set(value)) != len(value):
        raise NeurosimError(f"{where}: a neuron index is listed twice")
    if not value:
        raise NeurosimError(f"{where}: the list of neurons is empty")
    return list(value)


def _check_record(spec: Any, k: int, populations, models, dt, duration, where: str) -> Record:
    key = f"{where}: record[{k}]"
    check_keys(
        spec, key, ("population",), ("name", "variables", "neurons", "dt", "spikes", "labels")
    )
    pop = check_population(spec["population"], populations, f"{key}.population")
    model = models[pop]
    variables = spec.get("variables", [c.potential for c in model.compartments.values()])
    check_list(variables, f"{key}.variables", "a list of variable names", 1000)
    for var in variables:
        _variable(var, model, f"{key}.variables")
        if variables.count(var) > 1:
            raise NeurosimError(f"{key}.variables: {var!r} is listed twice")
    neurons = _neurons(spec.get("neurons", "all"), populations[pop]["n"], f"{key}.neurons")
    rec_dt = _time(spec["dt"], f"{key}.dt", positive=True, high=duration) if "dt" in spec else dt
    spikes = check_bool(spec.get("spikes", model.spiking), f"{key}.spikes")
    if spikes and not model.spiking:
        raise NeurosimError(f"{key}.spikes: model {model.name!r} has no spike threshold")
    name = check_identifier(spec.get("name", pop), f"{key}.name", "record name")
    if not variables and not spikes:
        raise NeurosimError(f"{key}.variables: nothing to record (no variables, no spikes)")
    count = populations[pop]["n"] if neurons is True else len(neurons)
    labels = _labels(spec["labels"], count, f"{key}.labels") if "labels" in spec else None
    return Record(name, pop, list(variables), neurons, rec_dt, spikes, labels)


def _labels(value: Any, count: int, where: str) -> tuple[str, ...]:
    """One short name per recorded neuron, in the order of ``neurons``."""
    check_list(value, where, "a list of names, one per recorded neuron", max_length=1000)
    if len(value) != count:
        raise NeurosimError(f"{where}: {len(value)} names given for {count} recorded neurons")
    for k, label in enumerate(value):
        check_str(label, f"{where}[{k}]", "a short name", max_length=60)
    return tuple(value)


#: Keys each measurement needs (the measurement reports them late otherwise).
ANALYSIS_REQUIRED = {
    "steady_state": ("variable",),
    "fi_curve": ("current",),
    "passive_response": ("variable", "current", "onset", "stop"),
    "voltage_transfer": ("source", "target"),
    "plateau": ("variable", "threshold"),
}

# Measurements that read a record's spikes.
_SPIKE_MEASUREMENTS = (
    "spike_count",
    "firing_rate",
    "fi_curve",
    "population_statistics",
    "burst_fraction",
)


def _check_analysis(spec: Any, k: int, records: list[Record], models, duration, where: str):
    """Check one ``analysis`` entry against the records, before anything runs."""
    from neurosim.analysis import MEASUREMENTS

    key = f"{where}: analysis[{k}]"
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if not isinstance(kind, str) or kind not in MEASUREMENTS:
        raise NeurosimError(
            f"{key}.kind: unknown analysis kind {excerpt(kind)} "
            f"(known: {', '.join(sorted(MEASUREMENTS))})"
        )
    check_keys(spec, key, ("kind", *ANALYSIS_REQUIRED.get(kind, ())), MEASUREMENTS[kind].keys)
    if "name" in spec:
        check_identifier(spec["name"], f"{key}.name", "measurement name")
    by_name = {r.name: r for r in records}
    if "record" in spec:
        rec_name = spec["record"]
        if not isinstance(rec_name, str) or rec_name not in by_name:
            raise NeurosimError(
                f"{key}.record: no record {excerpt(rec_name)} (records: {', '.join(by_name)})"
            )
        rec = by_name[rec_name]
    elif len(records) == 1:
        rec = records[0]
    else:
        raise NeurosimError(f"{key}: say which record to measure (key 'record')")
    model = models[rec.population]
    for name in ("variable", "current", "source", "target"):
        if name in spec:
            var = _variable(spec[name], model, f"{key}.{name}")
            if var not in rec.variables:
                raise NeurosimError(f"{key}.{name}: record {rec.name!r} does not record {var!r}")
    if kind in _SPIKE_MEASUREMENTS and not rec.spikes:
        raise NeurosimError(f"{key}: record {rec.name!r} records no spikes (set spikes: true)")
    times = {
        name: _time(spec[name], f"{key}.{name}", low=0 * brian2.second, high=duration)
        for name in ("start", "stop", "onset")
        if name in spec
    }
    first = times.get("start", times.get("onset"))
    if first is not None and "stop" in times and first >= times["stop"]:
        raise NeurosimError(f"{key}.stop: has to be after start/onset")
    for name in ("fano_window", "rate_bin"):
        if name in spec:
            _time(spec[name], f"{key}.{name}", positive=True, high=duration)
    for name in ("threshold", "plateau_threshold"):
        if name in spec:
            if "variable" not in spec:
                raise NeurosimError(f"{key}.{name}: needs 'variable' (the recorded potential)")
            dim = model.variables[spec["variable"]].dimension
            parse_quantity(spec[name], f"{key}.{name}", dim)
    if kind == "burst_fraction":
        from neurosim.analysis.bursts import check_spec

        check_spec(spec, key)
    return spec


def _check_object_names(
    populations, stimuli: list[Stimulus], records: list[Record], where: str, projections=()
):
    """Refuse two Brian2 objects with one name (Brian2 would fail mid-build)."""
    names = list(populations) + list(projections) + [f"{r.name}_state" for r in records]
    names += [f"{r.name}_spikes" for r in records if r.spikes]
    for k, stim in enumerate(stimuli):
        if stim.kind == "dataset_poisson":
            names += [f"stim{k}_pixels", f"stim{k}_synapses", f"stim{k}_images"]
    # stimuli of one input variable share one drive operation
    names += sorted(
        {f"{s.population}_drive_{s.variable}" for s in stimuli if not s.kind.endswith("poisson")}
    )
    seen = set()
    for name in names:
        if name in seen:
            raise NeurosimError(
                f"{where}: the name {name!r} is used twice "
                "(rename a population, projection or record)"
            )
        seen.add(name)


def estimate_memory(protocol: Protocol) -> dict[str, float]:
    """Estimate the memory (bytes) a simulation protocol needs, by part.

    ``network``: every neuron's state and parameters (float64, times a
    factor for the temporaries of Brian2's generated code) and the
    synapses of projections and dataset inputs; ``stimuli``: the sampled stimulus
    envelopes and images; ``recording``: every recorded sample (float64)
    of the state monitors. Spike monitors grow with the activity and are
    not counted.
    """
    duration = protocol.duration
    parts = {"network": 0.0, "stimuli": 0.0, "recording": 0.0}
    for name, pop in protocol.populations.items():
        model = protocol.models[name]
        arrays = len(model.variables) + len(pop.get("params") or {}) + len(protocol.stimuli) + 4
        parts["network"] += _CODE_FACTOR * 8.0 * pop["n"] * arrays
        if isinstance(model, SpikeSource):  # an index and a time per spike
            parts["stimuli"] += 16.0 * len(model.times)
    steps = float(duration / protocol.finest_dt) + 2
    for stim in protocol.stimuli:
        n = protocol.populations[stim.population]["n"]
        if stim.kind == "dataset_poisson":
            from neurosim.datasets import image_pixels

            images = stim.spec.get("images", 60_000)
            p = float(stim.spec.get("connect_p", 1.0))
            # one Poisson source and one synapse per pixel; a file not read yet counts as MNIST
            pixels = image_pixels(stim.spec["dataset"]) or 784
            parts["stimuli"] += 8.0 * images * pixels
            parts["network"] += _SYNAPSE_BYTES * pixels * n * p
        elif stim.kind != "poisson":
            parts["stimuli"] += 8.0 * (steps + n)
    for proj in protocol.projections:
        count = synapse_count(proj, protocol.populations)
        # traces of a plasticity rule, per-synapse state of a synapse model
        extra = (proj.plasticity.rule.model.count("/dt") if proj.plasticity else 0) + (
            len(proj.synapse.synapse_variables) if proj.synapse else 0
        )
        parts["network"] += (_SYNAPSE_BYTES + 8.0 * extra) * count
        if proj.record is not None:
            n = count if proj.record.synapses is None else min(count, proj.record.synapses)
            samples = 1.0 if proj.record.at_end else float(duration / proj.record.dt) + 2
            parts["recording"] += 8.0 * samples * (n * len(proj.record.variables) + 1)
    for rec in protocol.records:
        n = protocol.populations[rec.population]["n"] if rec.neurons is True else len(rec.neurons)
        samples = float(duration / rec.dt) + 2
        parts["recording"] += 8.0 * samples * (n * len(rec.variables) + 1)
    return parts


def check_memory(protocol: Protocol) -> None:
    """Refuse a simulation whose estimated memory exceeds the memory available."""
    require_memory(
        estimate_memory(protocol),
        protocol.where("populations"),
        "use fewer neurons, record fewer neurons or variables, a coarser record dt or a "
        "shorter duration",
        subject="the run",
    )
