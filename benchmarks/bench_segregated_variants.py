"""Short learning runs of every segregated-dendrite variant on the shipped subset.

Each variant of ``protocols/segregated_mnist_demo.yaml`` trains on the first
N shipped training images (one epoch, one Brian2 run) and is tested on M
shipped test images; prints the test error of each.

Usage::

    python benchmarks/bench_segregated_variants.py [--train 3000] [--test 500] [--out DIR]
        [--init reference|narrow]

``--init narrow`` gives neurosim's initial weights before issue 13 (see
:func:`neurosim.networks.segregated.init_weights`); the default is the
reference code's.
"""

import argparse
import time

from neurosim.protocol import load_protocol
from neurosim.runner import run_protocol

VARIANTS = {
    "0 hidden": ["training.hidden_sizes=[]", "training.learning_rates=[0.21]"],
    "1 hidden (500)": [],
    "2 hidden (500, 100)": [
        "training.hidden_sizes=[500, 100]",
        "training.learning_rates=[0.21, 0.21, 0.21]",
    ],
    "sparse feedback": ["training.sparse_feedback=true"],
    "apical conductance": ["training.apical_conductance=true"],
    "symmetric feedback": ["training.symmetric_feedback=true"],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--out", default="results/bench_segregated_variants")
    parser.add_argument("--init", default="reference", choices=("reference", "narrow"))
    args = parser.parse_args()
    common = [
        f"training.train_examples={args.train}",
        f"training.test_examples={args.test}",
        "training.test_every=null",
        "training.trace_steps=[0, 0]",
        "output.plots=[learning_curve]",
        f"training.init={args.init}",
    ]
    for k, (name, extra) in enumerate(VARIANTS.items()):
        start = time.perf_counter()
        protocol = load_protocol("segregated_mnist_demo", common + extra)
        ds = run_protocol(protocol, f"{args.out}/{k}", progress=False).dataset
        print(
            f"{name:<22} test error {float(ds.test_error[-1]):6.1f} %   "
            f"({time.perf_counter() - start:.0f} s, compile included)",
            flush=True,
        )


if __name__ == "__main__":
    main()
