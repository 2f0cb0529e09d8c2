import logging
import os
from pathlib import Path

# One thread per library, for this process and the neurosim processes the tests start:
# the tests' networks are small, and on a busy 2-core machine a second torch or BLAS
# thread waiting for a core makes a small step ten times slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _quiet_brian2():
    logging.getLogger("brian2").setLevel(logging.ERROR)
    yield


@pytest.fixture
def write(tmp_path):
    """Write a text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write


@pytest.fixture
def variant(tmp_path):
    """Copy a shipped YAML file under tmp_path with one text replaced (a broken variant)."""

    def _variant(source: Path, old: str, new: str) -> Path:
        text = source.read_text()
        assert old in text, old
        path = tmp_path / source.name
        path.write_text(text.replace(old, new))
        return path

    return _variant
