"""neurosim: multi-compartment pyramidal neurons and random-feedback learning in Brian2.

The flat public API: load models and protocols, run them, and read recordings.
"""

from neurosim._version import __version__
from neurosim.errors import NeurosimError
from neurosim.model import NeuronModel, load_model
from neurosim.protocol import Protocol, load_protocol
from neurosim.recording import load_recording, save_recording
from neurosim.runner import RunResult, run_protocol

__all__ = [
    "NeuronModel",
    "NeurosimError",
    "Protocol",
    "RunResult",
    "__version__",
    "load_model",
    "load_protocol",
    "load_recording",
    "run_protocol",
    "save_recording",
]
