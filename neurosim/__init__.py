"""neurosim: multi-compartment pyramidal neurons and random-feedback learning in Brian2.

The flat public API: load models and protocols, run them, and read recordings.
The names are imported on first use, so that the torch-only subpackages
(``neurosim.blackbox``, ``neurosim.rl``) load without Brian2.
"""

from importlib import import_module

import xarray as xr

from neurosim._version import __version__
from neurosim.errors import NeurosimError

_LAZY = {
    "NeuronModel": "neurosim.model",
    "load_model": "neurosim.model",
    "Protocol": "neurosim.protocol",
    "load_protocol": "neurosim.protocol",
    "load_recording": "neurosim.recording",
    "save_recording": "neurosim.recording",
    "RunResult": "neurosim.runner",
    "run_protocol": "neurosim.runner",
}

__all__ = ["NeurosimError", "__version__", *sorted(_LAZY)]


@xr.register_dataset_accessor("neurosim")
def _accessor(ds: xr.Dataset):
    """``ds.neurosim``: spike statistics, summaries and plots of a recording.

    Registered here so that ``import neurosim`` is enough; the analysis module
    (Elephant, Neo) loads on first use.
    """
    from neurosim.analysis.accessor import NeurosimAccessor

    return NeurosimAccessor(ds)


def __getattr__(name: str):
    """Import a public name's module the first time the name is used."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'neurosim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
