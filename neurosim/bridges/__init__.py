"""Torch bridges: compare the Brian2 networks with backprop, FA and DFA.

- :mod:`neurosim.bridges.feedback`: backprop, feedback alignment, direct
  feedback alignment and shallow learning as autograd functions; ``convert``
  switches any ``nn.Sequential`` of linear layers to a rule.
- :mod:`neurosim.bridges.alignment`: update and feedback angles per layer.
- :mod:`neurosim.bridges.mlp`: MLP training on MNIST with any rule, results as
  an xarray Dataset, checkpoints and resume.
- :mod:`neurosim.bridges.segregated`: the segregated-dendrite network's weights
  to and from an equivalent torch rate network.
"""
