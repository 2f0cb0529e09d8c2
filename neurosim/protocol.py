"""Protocols as data: load, override (``--set``) and validate experiment files.

A protocol file (``protocols/*.yaml``) says which models and how many neurons,
the stimuli, the duration, what to record, the analyses, the seed, the Brian2
target and the outputs. Every section is checked here, before anything is
built, so that a typo in a key or a unit is one line naming the file, the key
and the value.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brian2
import numpy as np
import yaml
from brian2 import Quantity

from neurosim.errors import NeurosimError
from neurosim.model import NeuronModel, find_model, load_model
from neurosim.schema import check_keys, describe_files, expect, find_file, read_yaml
from neurosim.units import parse_quantity

__all__ = [
    "PROTOCOLS_DIR",
    "TARGETS",
    "Protocol",
    "Record",
    "Stimulus",
    "apply_overrides",
    "find_protocol",
    "list_protocols",
    "load_protocol",
]

#: Where the shipped protocols live (the repository's ``protocols/`` folder).
PROTOCOLS_DIR = Path(__file__).resolve().parent.parent / "protocols"

#: Brian2 code-generation targets a protocol may ask for.
TARGETS = ("numpy", "cython", "cpp_standalone")

_TOP_REQUIRED = ("name", "description", "seed")
_TOP_OPTIONAL = (
    "kind",
    "target",
    "dt",
    "duration",
    "populations",
    "stimuli",
    "record",
    "analysis",
    "output",
    "notes",
    "training",
)

#: Keys of each stimulus kind: (required, optional).
STIMULUS_KEYS = {
    "current_step": (("population", "variable", "amplitude"), ("start", "stop", "neurons")),
    "current_ramp": (("population", "variable", "amplitude"), ("start", "stop", "neurons")),
    "current_alpha": (("population", "variable", "amplitude", "onset", "tau"), ("neurons",)),
    "current_epsc": (
        ("population", "variable", "amplitude", "onset", "tau_rise", "tau_decay"),
        ("neurons",),
    ),
    "poisson": (("population", "variable", "rate", "n_inputs", "weight"), ()),
    # One Poisson source per pixel, rate max_rate * intensity, one image per presentation.
    "dataset_poisson": (
        ("population", "variable", "dataset", "weight", "presentation"),
        ("split", "images", "max_rate", "connect_p"),
    ),
}

#: Datasets a ``dataset_poisson`` stimulus can present.
DATASETS = ("mnist_subset", "mnist")


@dataclass(frozen=True)
class Stimulus:
    """One validated stimulus (see ``STIMULUS_KEYS`` for the kinds)."""

    kind: str
    population: str
    variable: str
    spec: dict[str, Any]
    where: str


@dataclass(frozen=True)
class Record:
    """What to record from one population."""

    name: str
    population: str
    variables: list[str]
    neurons: list[int] | bool
    dt: Quantity
    spikes: bool


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

    @property
    def text(self) -> str:
        """The effective protocol (after ``--set`` overrides) as YAML text."""
        return yaml.safe_dump(self.data, sort_keys=False)

    def where(self, key: str) -> str:
        """Location prefix for error messages about ``key``."""
        return f"{self.path or self.name}: {key}"


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
    """
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise NeurosimError(f"--set {item!r}: expected key=value")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise NeurosimError(f"--set {item!r}: cannot read value {text!r}") from None
        node: Any = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise NeurosimError(
                        f"--set {item!r}: {where} has no item {'.'.join(parts[: depth + 1])}"
                    )
                index: Any = int(part)
            elif isinstance(node, dict):
                if part not in node and not last:
                    raise NeurosimError(
                        f"--set {item!r}: {where} has no key {'.'.join(parts[: depth + 1])!r}"
                    )
                index = part
            else:
                raise NeurosimError(f"--set {item!r}: {'.'.join(parts[:depth])!r} is not a section")
            if last:
                node[index] = value
            else:
                node = node[index]
    return data


def load_protocol(path: str | Path, overrides: list[str] | None = None) -> Protocol:
    """Load, override and validate a protocol file.

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
    overrides = list(overrides or [])
    data = apply_overrides(raw, overrides, str(path))
    where = str(path)
    check_keys(data, where, _TOP_REQUIRED, _TOP_OPTIONAL)
    expect(data["name"], str, f"{where}: name", "a string")
    expect(data["description"], str, f"{where}: description", "a one-line string")
    seed = expect(data["seed"], int, f"{where}: seed", "an integer")
    kind = expect(data.get("kind", "simulation"), str, f"{where}: kind", "a protocol kind")
    from neurosim.kinds import register_all
    from neurosim.runner import PROTOCOL_KINDS

    register_all()

    if kind not in PROTOCOL_KINDS:
        raise NeurosimError(
            f"{where}: kind: unknown protocol kind {kind!r} "
            f"(known: {', '.join(sorted(PROTOCOL_KINDS))})"
        )
    target = data.get("target", "numpy")
    if target not in TARGETS:
        raise NeurosimError(
            f"{where}: target: unknown Brian2 target {target!r} (use {', '.join(TARGETS)})"
        )
    dt = parse_quantity(data.get("dt", "0.1 ms"), f"{where}: dt", brian2.second)
    duration = data.get("duration")
    if duration is not None:
        duration = parse_quantity(duration, f"{where}: duration", brian2.second)
        if duration <= 0 * brian2.second:
            raise NeurosimError(f"{where}: duration: has to be > 0, got {data['duration']!r}")

    populations, models = _check_populations(data.get("populations") or {}, where)
    stimuli = [
        _check_stimulus(spec, k, populations, models, where)
        for k, spec in enumerate(
            expect(data.get("stimuli") or [], list, f"{where}: stimuli", "a list")
        )
    ]
    records = [
        _check_record(spec, k, populations, models, dt, where)
        for k, spec in enumerate(
            expect(data.get("record") or [], list, f"{where}: record", "a list")
        )
    ]
    analysis = expect(data.get("analysis") or [], list, f"{where}: analysis", "a list")
    for k, spec in enumerate(analysis):
        check_keys(spec, f"{where}: analysis[{k}]", ("kind",), _analysis_optional(spec))
    output = check_keys(
        data.get("output") or {}, f"{where}: output", (), ("name", "formats", "plots")
    )
    from neurosim.plotting import PLOTS

    for kind_ in output.get("plots", []):
        if kind_ not in PLOTS:
            raise NeurosimError(
                f"{where}: output.plots: unknown plot {kind_!r} (use {', '.join(PLOTS)})"
            )
    for fmt in output.get("formats", ["netcdf"]):
        if fmt not in ("netcdf", "zarr"):
            raise NeurosimError(
                f"{where}: output.formats: unknown format {fmt!r} (use netcdf, zarr)"
            )
    return Protocol(
        name=data["name"],
        description=data["description"],
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
        data=data,
        path=path,
        overrides=overrides,
    )


def _analysis_optional(spec: Any) -> tuple[str, ...]:
    from neurosim.analysis import MEASUREMENTS

    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in MEASUREMENTS:
        raise NeurosimError(
            f"analysis kind {kind!r} is unknown (known: {', '.join(sorted(MEASUREMENTS))})"
        )
    return MEASUREMENTS[kind].keys


def _check_populations(spec: Any, where: str):
    populations: dict[str, dict[str, Any]] = {}
    models: dict[str, NeuronModel] = {}
    expect(spec, dict, f"{where}: populations", "a mapping of population name to settings")
    for name, pop in spec.items():
        key = f"{where}: populations.{name}"
        check_keys(pop, key, ("model", "n"), ("params", "initial", "method", "dt"))
        model_path = find_model(pop["model"])
        if not model_path.is_file():
            raise NeurosimError(f"{key}.model: no model {pop['model']!r} (looked for {model_path})")
        models[name] = load_model(model_path)
        n = expect(pop["n"], int, f"{key}.n", "an integer >= 1")
        if n < 1:
            raise NeurosimError(f"{key}.n: has to be an integer >= 1, got {n}")
        for sub in ("params", "initial"):
            expect(pop.get(sub) or {}, dict, f"{key}.{sub}", "a mapping")
        unknown = set(pop.get("params") or {}) - set(models[name].parameters)
        if unknown:
            raise NeurosimError(
                f"{key}.params: {sorted(unknown)[0]!r} is not a parameter of "
                f"model {models[name].name!r}"
            )
        populations[name] = dict(pop)
        if "dt" in pop:
            # a population may need a finer step than the protocol (fast channels)
            populations[name]["dt"] = parse_quantity(pop["dt"], f"{key}.dt", brian2.second)
    return populations, models


def _check_stimulus(spec: Any, k: int, populations, models, where: str) -> Stimulus:
    key = f"{where}: stimuli[{k}]"
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in STIMULUS_KEYS:
        raise NeurosimError(
            f"{key}.kind: unknown stimulus kind {kind!r} (known: {', '.join(STIMULUS_KEYS)})"
        )
    required, optional = STIMULUS_KEYS[kind]
    check_keys(spec, key, ("kind", *required), optional)
    pop = spec["population"]
    if pop not in populations:
        raise NeurosimError(f"{key}.population: no population {pop!r}")
    model = models[pop]
    variable = spec["variable"]
    if variable not in model.variables:
        raise NeurosimError(
            f"{key}.variable: {variable!r} is not a variable of model {model.name!r}"
        )
    dim = model.variables[variable].dimension
    if not kind.endswith("poisson") and variable not in model.input_variables:
        raise NeurosimError(
            f"{key}.variable: {variable!r} is not an input variable of model "
            f"{model.name!r} (inputs: {', '.join(model.input_variables)})"
        )
    parsed: dict[str, Any] = {}
    for name, value in spec.items():
        if name in ("kind", "population", "variable"):
            continue
        if name == "weight":
            parsed[name] = parse_quantity(value, f"{key}.{name}", dim)
        elif name == "amplitude":
            parsed[name] = _amplitudes(value, dim, populations[pop]["n"], f"{key}.{name}")
        elif name in ("start", "stop", "onset", "tau", "tau_rise", "tau_decay"):
            parsed[name] = parse_quantity(value, f"{key}.{name}", brian2.second)
        elif name == "presentation":
            parsed[name] = parse_quantity(value, f"{key}.{name}", brian2.second)
        elif name in ("rate", "max_rate"):
            parsed[name] = parse_quantity(value, f"{key}.{name}", brian2.Hz)
        elif name in ("n_inputs", "images"):
            parsed[name] = expect(value, int, f"{key}.{name}", "an integer >= 1")
            if value < 1:
                raise NeurosimError(f"{key}.{name}: has to be an integer >= 1, got {value}")
        elif name == "dataset" and value not in DATASETS:
            raise NeurosimError(
                f"{key}.dataset: unknown dataset {value!r} (known: {', '.join(DATASETS)})"
            )
        elif name == "split" and value not in ("train", "test"):
            raise NeurosimError(f"{key}.split: expected 'train' or 'test', got {value!r}")
        elif name == "connect_p":
            expect(value, (int, float), f"{key}.{name}", "a probability in (0, 1]")
            if not 0 < value <= 1:
                raise NeurosimError(
                    f"{key}.{name}: expected a probability in (0, 1], got {value!r}"
                )
        if name in ("dataset", "split", "connect_p"):
            parsed[name] = value
        elif name == "neurons":
            parsed[name] = _neurons(value, populations[pop]["n"], f"{key}.neurons")
    if kind == "current_epsc" and parsed["tau_rise"] >= parsed["tau_decay"]:
        raise NeurosimError(f"{key}.tau_rise: has to be shorter than tau_decay")
    return Stimulus(kind, pop, variable, parsed, key)


def _amplitudes(value: Any, dim, n: int, where: str):
    """A shared amplitude, a list of ``n`` per-neuron values, or ``{linspace: [a, b]}``."""
    if isinstance(value, dict):
        check_keys(value, where, ("linspace",))
        ends = expect(value["linspace"], list, f"{where}.linspace", "a list [first, last]")
        if len(ends) != 2:
            raise NeurosimError(f"{where}.linspace: expected [first, last], got {ends!r}")
        a, b = (parse_quantity(v, f"{where}.linspace", dim) for v in ends)
        return a + (b - a) * np.linspace(0.0, 1.0, n)
    if isinstance(value, list):
        if len(value) != n:
            raise NeurosimError(f"{where}: {len(value)} values given for {n} neurons")
        return [parse_quantity(v, f"{where}[{k}]", dim) for k, v in enumerate(value)]
    return parse_quantity(value, where, dim)


def _neurons(value: Any, n: int, where: str) -> list[int] | bool:
    if value in ("all", True):
        return True
    expect(value, list, where, "'all' or a list of neuron indices")
    for v in value:
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < n:
            raise NeurosimError(f"{where}: neuron index {v!r} out of range 0..{n - 1}")
    return list(value)


def _check_record(spec: Any, k: int, populations, models, dt, where: str) -> Record:
    key = f"{where}: record[{k}]"
    check_keys(spec, key, ("population",), ("name", "variables", "neurons", "dt", "spikes"))
    pop = spec["population"]
    if pop not in populations:
        raise NeurosimError(f"{key}.population: no population {pop!r}")
    model = models[pop]
    variables = spec.get("variables", [c.potential for c in model.compartments.values()])
    expect(variables, list, f"{key}.variables", "a list of variable names")
    for var in variables:
        if var not in model.variables:
            raise NeurosimError(
                f"{key}.variables: {var!r} is not a variable of model {model.name!r}"
            )
    neurons = _neurons(spec.get("neurons", "all"), populations[pop]["n"], f"{key}.neurons")
    rec_dt = parse_quantity(spec.get("dt", dt), f"{key}.dt", brian2.second) if "dt" in spec else dt
    spikes = expect(spec.get("spikes", model.spiking), bool, f"{key}.spikes", "true or false")
    if spikes and not model.spiking:
        raise NeurosimError(f"{key}.spikes: model {model.name!r} has no spike threshold")
    name = expect(spec.get("name", pop), str, f"{key}.name", "a string")
    return Record(name, pop, list(variables), neurons, rec_dt, spikes)
