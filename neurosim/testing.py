"""Helpers shared by neurosim's tests and benchmarks: numeric comparison, one-line refusals."""

from __future__ import annotations

import numpy as np
from brian2 import Quantity
from brian2.units.fundamentalunits import DIMENSIONLESS, have_same_dimensions

__all__ = ["assert_close", "refuses_in_one_line"]


def assert_close(actual, expected, *, rtol: float = 0.0, atol=0.0, what: str = "value") -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise, unit-aware.

    Parameters
    ----------
    actual, expected : Quantity, array or float
        Values to compare; Brian2 quantities must have the same dimensions.
    rtol : float
        Relative tolerance (stated in every test that uses it).
    atol : Quantity or float
        Absolute tolerance, in the units of ``expected``.
    what : str
        Name of the compared quantity, for the failure message.
    """
    if not have_same_dimensions(actual, expected):
        raise AssertionError(f"{what}: units differ: {actual!r} vs {expected!r}")
    dim = getattr(expected, "dim", DIMENSIONLESS)
    unit = Quantity(1.0, dim=dim) if dim is not DIMENSIONLESS else 1.0
    a = np.asarray(actual / unit, float)
    e = np.asarray(expected / unit, float)
    tol = float(atol / unit) + rtol * np.abs(e)
    err = np.abs(a - e)
    if not np.all(err <= tol):
        worst = int(np.argmax(err - tol))
        raise AssertionError(
            f"{what}: {a.flat[worst]!r} differs from {e.flat[worst]!r} by {err.flat[worst]:.3g} "
            f"(allowed {np.broadcast_to(tol, err.shape).flat[worst]:.3g}, rtol={rtol}, atol={atol})"
        )


def refuses_in_one_line(tmp_path, data: dict, message: str) -> str:
    """Write protocol ``data`` to ``tmp_path``; assert loading it fails with one line.

    The error has to match the regular expression ``message``; returns the line.
    """
    import pytest
    import yaml

    from neurosim.errors import NeurosimError
    from neurosim.protocol import load_protocol

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(NeurosimError, match=message) as err:
        load_protocol(path)
    line = str(err.value)
    assert "\n" not in line, line
    return line
