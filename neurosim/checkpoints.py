"""The one checkpoint format of every trainer (format ``neurosim-checkpoint``, version 1).

A checkpoint is a ``torch.save`` file of one dictionary: the trainer's state
plus six header keys,

``format``            ``"neurosim-checkpoint"``
``format_version``    1 (:data:`VERSION`)
``kind``              who wrote it: ``segregated``, ``a3c``, ``ddpg``,
                      ``controller`` (an exported RL actor), ``learned_optimizer``
                      or ``mlp``
``config``            the config it was written for (JSON values)
``neurosim_version``  the writing neurosim
``written``           UTC time of writing, ISO 8601

The header keys sit next to the state rather than in a sub-dictionary so that
``torch.load(path, weights_only=True)["step"]`` reads a value without knowing
the header. The state holds tensors, numpy arrays, numbers, strings, None,
lists, tuples and dictionaries only, so every file loads with
``torch.load(path, weights_only=True)``, which runs no code from the file.
Tensors are stored on the CPU (a checkpoint written on a GPU loads anywhere);
numpy arrays are stored as tensors tagged ``{"__ndarray__": tensor}`` and come
back as numpy arrays of the same dtype and values, and numpy scalars are
stored as Python numbers.

:func:`save_checkpoint` writes atomically; :func:`load_checkpoint` turns every
file it cannot use into one line naming the path: missing, truncated or
foreign (``PATH is truncated or not a neurosim checkpoint``), of another kind,
of a newer format version, written before this format, or for another config.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from neurosim.atomic import atomic_path
from neurosim.errors import NeurosimError, excerpt, unreadable_file

__all__ = [
    "FORMAT",
    "HEADER",
    "VERSION",
    "corrupt_checkpoint",
    "load_checkpoint",
    "missing_checkpoint",
    "restore",
    "save_checkpoint",
]

#: Format name in every checkpoint's ``format`` key.
FORMAT = "neurosim-checkpoint"
#: The format version this neurosim writes, and the newest it reads.
VERSION = 1
#: The header keys; a trainer's state must not use them.
HEADER = ("format", "format_version", "kind", "config", "neurosim_version", "written")
# Marks a numpy array stored as a tensor (weights_only refuses pickled numpy).
_NDARRAY = "__ndarray__"


def corrupt_checkpoint(path: str | Path) -> NeurosimError:
    """The error for a checkpoint file that does not read as one (or is empty)."""
    return unreadable_file(path, "checkpoint")


def missing_checkpoint(path: str | Path | None) -> NeurosimError:
    """The error for ``--resume`` without a checkpoint to resume from."""
    return NeurosimError(
        f"{path}: no checkpoint to resume from (run without --resume to start afresh)"
    )


def save_checkpoint(
    path: str | Path, kind: str, state: dict[str, Any], *, config: Any = None
) -> Path:
    """Write ``state`` with a format header as a checkpoint, atomically.

    Parameters
    ----------
    path : str or Path
        The file; it appears complete or not at all (:func:`neurosim.atomic.atomic_path`).
    kind : str
        Who writes it, e.g. ``"a3c"``; :func:`load_checkpoint` checks it.
    state : dict
        Tensors, numpy arrays and scalars, numbers, strings, None, lists,
        tuples and dictionaries; no key of :data:`HEADER`.
    config : dict, optional
        The config the state belongs to; JSON values (tuples become lists).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    TypeError
        For a value that would not load with ``weights_only=True`` (caught
        here rather than by the run that tries to resume).
    ValueError
        If ``state`` uses a header key.
    """
    import torch

    if clash := [key for key in HEADER if key in state]:
        raise ValueError(f"checkpoint state uses header keys {clash}")
    header = {
        "format": FORMAT,
        "format_version": VERSION,
        "kind": kind,
        "config": json.loads(json.dumps(config)),
        "neurosim_version": _version(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with atomic_path(path) as tmp:
        torch.save({**header, **_encode(state)}, tmp)
    return Path(path)


def load_checkpoint(
    path: str | Path,
    kind: str | Iterable[str],
    *,
    config: Any = None,
    may_differ: Iterable[str] = (),
    keys: Iterable[str] = (),
) -> dict[str, Any]:
    """Read a checkpoint (``weights_only=True``, onto the CPU) and check its header.

    Parameters
    ----------
    path : str or Path
    kind : str or iterable of str
        The kind (or kinds) the caller can use.
    config : dict, optional
        The config of the run that reads it: the checkpoint's has to be equal
        (compared as JSON values), but for the fields in ``may_differ``.
    may_differ : iterable of str
        Config fields that do not change what the state means (e.g. the total
        number of epochs).
    keys : iterable of str
        State keys the caller needs. A file without a header that has them is
        recognised as written before this format.

    Returns
    -------
    dict
        The state as saved, numpy arrays as numpy arrays, plus the header keys.

    Raises
    ------
    NeurosimError
        One line naming ``path``: the file is missing, truncated or foreign,
        lacks ``keys``, is of another kind, has a newer format version, was
        written before this format, or was written for another config.
    """
    import torch

    path, kinds, keys = Path(path), _names(kind), tuple(keys)
    if not path.is_file():
        raise NeurosimError(f"{path}: no such checkpoint file")
    try:
        data = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # unpickling and zip errors have no common base class
        if keys and _npz_names(path) >= {f"{key}.npy" for key in keys}:
            raise _pre_format(path) from None
        raise corrupt_checkpoint(path) from None
    if not isinstance(data, dict):
        raise corrupt_checkpoint(path)
    if data.get("format") != FORMAT:
        if keys and all(key in data for key in keys):
            raise _pre_format(path)
        raise corrupt_checkpoint(path)
    version = data.get("format_version")
    if type(version) is not int or version < 1 or any(key not in data for key in HEADER):
        raise corrupt_checkpoint(path)
    if version > VERSION:
        raise NeurosimError(
            f"{path}: checkpoint format version {version} is newer than this neurosim "
            f"reads ({VERSION}); update neurosim"
        )
    if data["kind"] not in kinds:
        found = data["kind"]
        article = "an" if str(found)[:1] in "aeiou" else "a"
        raise NeurosimError(f"{path}: {article} {found} checkpoint, expected {_either(kinds)}")
    if any(key not in data for key in keys):
        raise corrupt_checkpoint(path)
    if config is not None:
        _check_config(path, data["config"], config, set(may_differ))
    return _decode(data)


def restore(path: str | Path, state: dict[str, Any], **modules: Any) -> None:
    """Load ``state[key]`` into each ``modules[key]`` (a torch module or optimizer).

    Raises
    ------
    NeurosimError
        If a saved state does not fit its module (other sizes or settings).
    """
    try:
        for key, module in modules.items():
            module.load_state_dict(state[key])
    except (KeyError, RuntimeError, ValueError, TypeError):
        raise NeurosimError(
            f"{path}: its tensors do not fit this model (other sizes or settings?)"
        ) from None


def _version() -> str:
    from neurosim._version import __version__

    return __version__


def _names(kind: str | Iterable[str]) -> tuple[str, ...]:
    return (kind,) if isinstance(kind, str) else tuple(kind)


def _either(kinds: tuple[str, ...]) -> str:
    return kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"


def _pre_format(path: Path) -> NeurosimError:
    return NeurosimError(
        f"{path}: written before checkpoint format {VERSION}, the only one this neurosim "
        "reads; run without --resume to start afresh"
    )


def _npz_names(path: Path) -> set[str]:
    # The segregated network's checkpoints were .npz archives before format 1.
    try:
        with zipfile.ZipFile(path) as archive:
            return set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return set()


def _check_config(path: Path, saved: Any, config: Any, may_differ: set[str]) -> None:
    current = json.loads(json.dumps(config))
    if isinstance(saved, dict) and isinstance(current, dict):
        differ = [
            key
            for key in sorted(saved.keys() | current.keys())
            if key not in may_differ and saved.get(key) != current.get(key)
        ]
        if not differ:
            return
        key = differ[0]
        detail = f" ({key} {excerpt(saved.get(key))}, now {excerpt(current.get(key))})"
    elif saved == current:
        return
    else:
        detail = ""
    raise NeurosimError(f"{path}: checkpoint was written with a different config{detail}")


def _encode(value: Any) -> Any:
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        # A C-ordered copy, of the base class (no Brian2 quantities); unlike
        # np.ascontiguousarray it keeps 0-d arrays 0-d.
        array = np.array(value, order="C")
        try:
            return {_NDARRAY: torch.from_numpy(array)}
        except TypeError:
            message = f"a checkpoint cannot hold numpy arrays of dtype {array.dtype}"
            raise TypeError(message) from None
    if isinstance(value, np.generic):
        return value.item()
    # Plain containers only: weights_only loads no subclasses (named tuples).
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_encode(v) for v in value)
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    raise TypeError(f"a checkpoint cannot hold {type(value).__name__} values")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _NDARRAY in value:
            return value[_NDARRAY].numpy()
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_decode(v) for v in value)
    return value
