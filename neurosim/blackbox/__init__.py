"""Learned black-box optimization (Chen et al. 2017) and its baselines.

- :mod:`neurosim.blackbox.gp`: batched, differentiable GP-prior samples (training data).
- :mod:`neurosim.blackbox.learned`: the LSTM optimizer, its rollout, losses and training.
- :mod:`neurosim.blackbox.asktell`: ask/tell optimizers: learned, random search,
  CMA-ES and BoTorch GP-EI, all in one interface.
- :mod:`neurosim.blackbox.functions`: Branin, Goldstein-Price, Hartmann3/6.
"""
