"""Protocol overrides for a tiny segregated run, shared by the tests that run one.

Small enough to run several times and compiled once (every test that uses them
shares the build), big enough that every output (quick tests, plateaus,
traces, phases) exists.
"""

SMALL_OVERRIDES = [
    "training.hidden_sizes=[30]",
    "training.train_examples=40",
    "training.test_examples=20",
    "training.test_every=20",
    "training.quick_test_examples=10",
    "training.trace_steps=[0, 120]",
    "training.record_neurons=3",
]
