"""Reading and checking the YAML data files (models, protocols).

Every check raises :class:`~neurosim.errors.NeurosimError` with one line that
names the file, the key and the value, so that a typo never surfaces as a
traceback from deep inside Brian2.

Files are read with a loader that reads ``1e-3`` as a number (YAML 1.2; PyYAML
follows YAML 1.1, where it is a string) and refuses what YAML allows but a data
file never needs: duplicate keys (YAML keeps the last silently), files beyond
:data:`MAX_FILE_BYTES`, and aliases that expand to more than
:data:`MAX_YAML_NODES` nodes (an "alias bomb" is a few lines that expand to
billions of items). The typed checkers below (:func:`check_int`,
:func:`check_name`, ...) are the one place where the type and range of every
key of a model or protocol file is checked; error messages quote at most a
short :func:`~neurosim.errors.excerpt` of a value.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from neurosim.errors import NeurosimError, excerpt

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "SEED_LIMIT",
    "check_bool",
    "check_choice",
    "check_identifier",
    "check_int",
    "check_keys",
    "check_list",
    "check_mapping",
    "check_name",
    "check_number",
    "check_population",
    "check_seed",
    "check_str",
    "describe_files",
    "expect",
    "find_file",
    "key_text",
    "load_yaml_text",
    "read_yaml",
]

#: Largest model or protocol file read (bytes); real ones are a few kB.
MAX_FILE_BYTES = 1 << 20

#: Most YAML nodes a file may hold once its aliases are expanded.
MAX_YAML_NODES = 100_000

#: Deepest nesting of YAML collections in a file.
MAX_YAML_DEPTH = 40

#: Seeds are ``0 <= seed < SEED_LIMIT`` (numpy's and Brian2's 32-bit seeds).
SEED_LIMIT = 2**32

# File names: a safe character set, never a path or a hidden file.
_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")
# Names that become Brian2 object and recording variable names.
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


class _LimitError(Exception):
    """A YAML document beyond the loader's limits (message names the limit)."""


# libyaml's parser when PyYAML was built with it (10x faster; nesting limited to 1000)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and alias bombs."""

    def get_single_node(self):
        node = super().get_single_node()
        _check_expansion(node)
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue  # unhashable: SafeLoader reports it below
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {excerpt(key)}", key_node.start_mark
                    )
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 floats: PyYAML (YAML 1.1) reads ``1e-3`` (no dot) as a string.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _check_expansion(root: yaml.Node | None) -> None:
    """Refuse documents whose aliases expand to too many nodes, or nest too deep.

    Aliases make the node graph a DAG (or a cycle); sizes are counted with a
    memo per node, so a bomb is measured without being expanded.
    """
    if root is None:
        return
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    active: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            active.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            if size[key] > MAX_YAML_NODES:
                raise _LimitError(
                    f"the file expands to more than {MAX_YAML_NODES} YAML nodes (aliases: '*name')"
                )
            continue
        if key in size:
            continue
        if key in active:
            raise _LimitError("an alias refers to a collection that contains it")
        if depth > MAX_YAML_DEPTH:
            raise _LimitError(f"collections nest deeper than {MAX_YAML_DEPTH} levels")
        active.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load_yaml_text(text: str, where: str) -> Any:
    """Parse YAML ``text`` with the checking loader; errors name ``where``.

    Raises
    ------
    NeurosimError
        On malformed YAML, a duplicate key, or a document beyond the limits.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no Python tags
    except _LimitError as err:
        raise NeurosimError(f"{where}: {err}") from None
    except RecursionError:
        raise NeurosimError(f"{where}: collections nest too deep") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        if problem.startswith("duplicate key"):
            raise NeurosimError(f"{where}: {problem}{line} (each key may appear once)") from None
        raise NeurosimError(f"{where}: malformed YAML{line}: {excerpt(problem, 120)}") from None


def read_yaml(path: str | Path, what: str) -> tuple[dict[str, Any], str]:
    """Read a YAML mapping from ``path``; return it with the file's text.

    Parameters
    ----------
    path : str or Path
        The file to read.
    what : str
        What the file should be (``"model"``, ``"protocol"``), for messages.

    Raises
    ------
    NeurosimError
        If the file is missing, unreadable, too large, malformed (including a
        duplicate key or an alias bomb) or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        shown = str(path) if len(str(path)) <= 200 else excerpt(str(path), 200)
        raise NeurosimError(f"{what} file not found: {shown}")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise NeurosimError(
                f"{path}: {what} file of {path.stat().st_size} bytes is larger than "
                f"the limit of {MAX_FILE_BYTES} bytes"
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise NeurosimError(f"{path}: cannot read {what} file ({excerpt(str(err), 120)})") from None
    if not text.strip():
        raise NeurosimError(f"{path}: the {what} file is empty")
    data = load_yaml_text(text, str(path))
    if data is None:
        raise NeurosimError(f"{path}: the {what} file holds only comments or null, no mapping")
    if not isinstance(data, dict):
        raise NeurosimError(
            f"{path}: a {what} file must be a YAML mapping, got {type(data).__name__}"
        )
    return data, text


def key_text(key: Any) -> str:
    """A key as it appears in a message's location (``populations.cell``).

    Plain short keys are shown as they are; anything else as an excerpt.
    """
    if isinstance(key, str) and len(key) <= 60 and re.fullmatch(r"[\w./-]+", key):
        return key
    return excerpt(key)


def check_keys(
    mapping: Any,
    where: str,
    required: Iterable[str] = (),
    optional: Iterable[str] = (),
) -> Mapping[str, Any]:
    """Check that ``mapping`` is a mapping with exactly the allowed keys.

    An unknown key is reported with the closest allowed spelling, since most
    unknown keys are typos.
    """
    if not isinstance(mapping, Mapping):
        raise NeurosimError(f"{where}: expected a mapping, got {excerpt(mapping)}")
    required = list(required)
    allowed = required + list(optional)
    for key in mapping:
        if key not in allowed:
            typo = isinstance(key, str)
            close = difflib.get_close_matches(key, allowed, n=1) if typo else []
            hint = (
                f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
            )
            raise NeurosimError(f"{where}: unknown key {excerpt(key)}{hint}")
    for key in required:
        if key not in mapping:
            raise NeurosimError(f"{where}: missing required key {key!r}")
    return mapping


def check_choice(
    spec: Mapping[str, Any], key: str, choices: Mapping[str, tuple[str, ...]], what: str, where: str
) -> tuple[str, tuple[str, ...]]:
    """A named variant (``spec[key]`` in ``choices``) given exactly its own parameters.

    ``choices`` maps each name to the parameters it needs; a parameter of
    another variant, or a missing one, is refused in one line. Returns the
    name and its parameters.
    """
    name = check_str(spec[key], f"{where}.{key}", f"a {what} name", 100)
    if name not in choices:
        raise NeurosimError(
            f"{where}.{key}: unknown {what} {excerpt(name)} (have: {', '.join(choices)})"
        )
    needed = choices[name]
    for param in dict.fromkeys(p for params in choices.values() for p in params):
        if param in spec and param not in needed:
            raise NeurosimError(f"{where}.{param}: not a parameter of {what} {name!r}")
        if param not in spec and param in needed:
            raise NeurosimError(f"{where}: {what} {name!r} needs {param!r}")
    return name, needed


def check_population(value: Any, populations: Iterable[str], where: str) -> str:
    """The name of one of a protocol's ``populations``."""
    if not isinstance(value, str) or value not in populations:
        raise NeurosimError(
            f"{where}: no population {excerpt(value)} (populations: {', '.join(populations)})"
        )
    return value


def expect(value: Any, types: type | tuple[type, ...], where: str, what: str) -> Any:
    """Check the YAML type of a value (``what`` describes it: 'an integer >= 1')."""
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise NeurosimError(f"{where}: expected {what}, got {excerpt(value)}")
    if not isinstance(value, types):
        raise NeurosimError(f"{where}: expected {what}, got {excerpt(value)}")
    return value


def check_int(value: Any, where: str, low: int | None = None, high: int | None = None) -> int:
    """An integer (not a boolean, not a float) with ``low <= value <= high``.

    ``n: 1e9`` is a float in YAML and is refused: a count is written as digits.
    """
    bounds = _bounds_text(low, high)
    if isinstance(value, bool) or not isinstance(value, int):
        raise NeurosimError(f"{where}: expected an integer{bounds}, got {excerpt(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise NeurosimError(f"{where}: expected an integer{bounds}, got {excerpt(value)}")
    return value


def _bounds_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" in {low}..{high}"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def check_seed(value: Any, where: str) -> int:
    """A random seed: an integer with ``0 <= seed < 2**32``."""
    return check_int(value, where, 0, SEED_LIMIT - 1)


def check_bool(value: Any, where: str) -> bool:
    """``true`` or ``false`` (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise NeurosimError(f"{where}: expected true or false, got {excerpt(value)}")
    return value


def check_str(value: Any, where: str, what: str = "a string", max_length: int = 10_000) -> str:
    """A string of at most ``max_length`` characters."""
    if not isinstance(value, str):
        raise NeurosimError(f"{where}: expected {what}, got {excerpt(value)}")
    if len(value) > max_length:
        raise NeurosimError(
            f"{where}: {len(value)} characters, more than the limit of {max_length}"
        )
    return value


def check_number(value: Any, where: str, what: str = "a finite number") -> float:
    """A finite int or float (not a boolean, not NaN or infinite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NeurosimError(f"{where}: expected {what}, got {excerpt(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise NeurosimError(f"{where}: expected {what}, got {excerpt(value)}")
    return number


def check_name(value: Any, where: str) -> str:
    """A name that becomes a file name: letters, digits, ``_ . -``; not starting with ``.``.

    A protocol's ``name`` and ``output.name`` name the files written under
    ``--out``; a ``/`` or ``..`` would write elsewhere.
    """
    check_str(value, where, "a name (letters, digits, '_', '.', '-')")
    if not _FILE_NAME.fullmatch(value):
        raise NeurosimError(
            f"{where}: {excerpt(value)} is not a valid name (1-100 letters, digits, "
            "'_', '.', '-', not starting with '.')"
        )
    return value


def check_identifier(value: Any, where: str, what: str = "name") -> str:
    """A name that becomes a Brian2 object or recording variable name.

    Letters, digits and ``_``, starting with a letter, at most 64 characters
    (population and record names).
    """
    check_str(value, where, f"a {what} (letters, digits, '_')")
    if not _IDENTIFIER.fullmatch(value):
        raise NeurosimError(
            f"{where}: {excerpt(value)} is not a valid {what} (1-64 letters, digits "
            "and '_', starting with a letter)"
        )
    return value


def check_list(value: Any, where: str, what: str = "a list", max_length: int = 10_000) -> list:
    """A YAML sequence of at most ``max_length`` items."""
    if not isinstance(value, list):
        raise NeurosimError(f"{where}: expected {what}, got {excerpt(value)}")
    if len(value) > max_length:
        raise NeurosimError(f"{where}: {len(value)} items, more than the limit of {max_length}")
    return value


def check_mapping(value: Any, where: str, what: str = "a mapping") -> dict:
    """A YAML mapping whose keys are strings (free-form keys: names of things)."""
    if not isinstance(value, dict):
        raise NeurosimError(f"{where}: expected {what}, got {excerpt(value)}")
    for key in value:
        if not isinstance(key, str):
            raise NeurosimError(f"{where}: key {excerpt(key)} is not a string")
    return value


def find_file(name: str | Path, directory: Path) -> Path:
    """Resolve a shipped file's name (``"lif"``) or a path to a path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return directory / f"{name}.yaml"


def describe_files(directory: Path) -> list[tuple[str, str]]:
    """``(name, description)`` of every YAML file in ``directory`` (for ``neurosim list``)."""
    out = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data, _ = read_yaml(path, "data")
            out.append((path.stem, str(data.get("description", ""))))
        except NeurosimError:
            out.append((path.stem, "(unreadable)"))
    return out
