"""Peer simulators run on neurosim protocols, for side-by-side validation."""
