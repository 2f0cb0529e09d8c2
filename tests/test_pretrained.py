"""The trained weights shipped in data/pretrained/: each reruns its recorded check.

Every file there is a segregated network's weights (``tools/ship_weights.py``)
whose header records the test error of its full run and of a check: the weights
run as a spiking Brian2 network, learning nothing, on the first test images of a
shipped subset. This test reruns that check and compares (issue 16: within 2
points of the shipped figure).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from neurosim.networks.segregated import SegregatedConfig

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "data" / "pretrained").glob("*.npz"))


def _header(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(str(npz["meta"]))
        assert all(npz[k].dtype == np.float32 for k in npz.files if k != "meta")
    return header


#: The runs whose final weights ship (issue 16), and their epochs.
RUNS = {"segregated_mnist.npz": 60, "segregated_fashion_mnist.npz": 10}


@pytest.mark.parametrize("name", RUNS)
def test_each_run_ships_its_final_weights(name):
    path = ROOT / "data" / "pretrained" / name
    assert path in SHIPPED
    header = _header(path)
    assert header["epochs"] == RUNS[name]
    assert header["data_name"] == path.stem.removeprefix("segregated_")
    assert header["data_train_examples"] == 60_000


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_weights_rerun_their_check(path):
    header = _header(path)
    check = header["check"]
    assert header["data_test_examples"] == 10_000 and header["epochs"] >= 10
    assert len(header["test_errors"]) == header["epochs"]
    assert header["test_error"] == header["test_errors"][-1]
    # tools/ is a folder of scripts beside the package, not installed with it
    spec = importlib.util.spec_from_file_location(
        "ship_weights", ROOT / "tools" / "ship_weights.py"
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    fields = SegregatedConfig.__dataclass_fields__
    config = SegregatedConfig(
        **{
            k: tuple(v) if isinstance(v, list) else v
            for k, v in header["config"].items()
            if k in fields
        }
    )
    again = tool.check_error(path, check["dataset"], check["test_examples"], config)
    assert abs(again - check["test_error"]) <= 2.0, (again, check)
