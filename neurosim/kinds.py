"""The static registry of protocol kinds.

:data:`PROTOCOL_KINDS` is filled by ``@protocol_kind`` decorators: the
``simulation`` kind in :mod:`neurosim.runner`, the learning kinds beside
their networks, imported here lazily (:func:`register_all`) so that loading a
simulation protocol does not import torch or compile a network. The registry
depends on nothing, so :mod:`neurosim.protocol` (which checks a protocol's
kind) and :mod:`neurosim.runner` (which runs it) do not import each other.
"""

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["KIND_MODULES", "PROTOCOL_KINDS", "protocol_kind", "register_all"]

#: Protocol kinds: name -> function(protocol, out_dir, progress, resume) -> RunResult.
PROTOCOL_KINDS: dict[str, Callable[..., Any]] = {}


def protocol_kind(name: str):
    """Register a protocol kind's run function under ``name`` (decorator)."""

    def register(fn):
        PROTOCOL_KINDS[name] = fn
        return fn

    return register


#: Modules defining protocol kinds beyond ``simulation`` (in ``neurosim.runner``).
KIND_MODULES = (
    "neurosim.runner",
    "neurosim.networks.segregated_protocol",
    "neurosim.networks.linear_fa",
    "neurosim.networks.stdp_pairing",
    "neurosim.bridges.compare",
    "neurosim.blackbox.tune",
)


def register_all() -> None:
    """Import every module that defines a protocol kind."""
    for name in KIND_MODULES:
        importlib.import_module(name)
