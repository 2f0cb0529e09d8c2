"""Every protocol kind, registered by importing the module that defines it.

``neurosim.runner.PROTOCOL_KINDS`` is filled by ``@protocol_kind`` decorators;
the learning kinds live beside their networks and are imported here, lazily,
so that loading a simulation protocol does not import torch or compile a
network.
"""

import importlib

__all__ = ["KIND_MODULES", "register_all"]

#: Modules defining protocol kinds beyond ``simulation`` (in ``neurosim.runner``).
KIND_MODULES = (
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
