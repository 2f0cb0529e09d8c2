"""RL agents as neural controllers (Mnih et al. 2016; Lillicrap et al. 2016).

- :mod:`neurosim.rl.common`: environments, the :class:`~neurosim.rl.common.Controller`
  form of a policy, evaluation and the run log (Dataset + CSV).
- :mod:`neurosim.rl.a3c`: asynchronous advantage actor-critic, one file.
- :mod:`neurosim.rl.ddpg`: deep deterministic policy gradient, one file.
- :mod:`neurosim.rl.controller`: a trained actor as a Brian2 network of rate
  neurons, run in closed loop with its environment and recorded.
"""
