"""Reading and checking the YAML data files (models, protocols).

Every check raises :class:`~neurosim.errors.NeurosimError` with one line that
names the file, the key and the value, so that a typo never surfaces as a
traceback from deep inside Brian2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from neurosim.errors import NeurosimError

__all__ = ["check_keys", "describe_files", "expect", "find_file", "read_yaml"]


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
        If the file is missing, unreadable, malformed or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise NeurosimError(f"{what} file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise NeurosimError(f"{path}: cannot read {what} file ({err})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise NeurosimError(f"{path}: malformed YAML{line}: {problem}") from None
    if not isinstance(data, dict):
        raise NeurosimError(
            f"{path}: a {what} file must be a YAML mapping, got {type(data).__name__}"
        )
    return data, text


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
        raise NeurosimError(f"{where}: expected a mapping, got {mapping!r}")
    required = list(required)
    allowed = required + list(optional)
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = (
                f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
            )
            raise NeurosimError(f"{where}: unknown key {key!r}{hint}")
    for key in required:
        if key not in mapping:
            raise NeurosimError(f"{where}: missing required key {key!r}")
    return mapping


def expect(value: Any, types: type | tuple[type, ...], where: str, what: str) -> Any:
    """Check the YAML type of a value (``what`` describes it: 'an integer >= 1')."""
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise NeurosimError(f"{where}: expected {what}, got {value!r}")
    if not isinstance(value, types):
        raise NeurosimError(f"{where}: expected {what}, got {value!r}")
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
            out.append((path.stem, str(yaml.safe_load(path.read_text()).get("description", ""))))
        except (yaml.YAMLError, AttributeError):
            out.append((path.stem, "(unreadable)"))
    return out
