"""Analysis of recordings: measurements run by protocols, analytic references."""

from neurosim.analysis.bursts import burst_statistics  # registers burst_fraction
from neurosim.analysis.measurements import MEASUREMENTS, Measurement, measurement, run_measurements
from neurosim.analysis.passive import Dendrite, input_conductance, star_steady_state

__all__ = [
    "MEASUREMENTS",
    "Dendrite",
    "Measurement",
    "burst_statistics",
    "input_conductance",
    "measurement",
    "run_measurements",
    "star_steady_state",
]
