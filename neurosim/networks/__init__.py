"""Networks built from neuron models and plasticity rules, one module per network.

- :mod:`neurosim.networks.segregated`: Guerguiev et al. (2017) segregated-dendrite
  network learning MNIST inside Brian2 (protocol kind ``segregated_dendrite``).
- :mod:`neurosim.networks.linear_fa`: Lillicrap et al. (2016) linear 30-20-10 task
  with backprop, feedback alignment or shallow learning (kind ``feedback_alignment``).
- :mod:`neurosim.networks.stdp_pairing`: spike-timing pairing protocols
  (kind ``stdp_pairing``).

Submodules are imported on demand; importing this package builds nothing.
"""
