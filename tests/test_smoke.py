"""The smoke protocol: a passive three-compartment neuron against its analytic steady state."""

from brian2 import pA

from neurosim import load_protocol, load_recording, run_protocol
from neurosim.analysis import Dendrite, star_steady_state
from neurosim.testing import assert_close


def test_smoke_protocol_matches_analytic_steady_state(tmp_path):
    protocol = load_protocol("smoke_passive", ["output.formats=[netcdf, zarr]"])
    result = run_protocol(protocol, tmp_path, progress=False)
    names = sorted(p.name for p in result.files)
    assert names == ["smoke_passive.nc", "smoke_passive.zarr", "smoke_passive_traces.png"]
    assert (tmp_path / "smoke_passive_traces.png").stat().st_size > 10_000

    p = {k: v.value for k, v in protocol.models["cell"].parameters.items()}
    v_s, (v_b, v_a) = star_steady_state(
        p["E_L"],
        p["g_L"],
        50 * pA,
        [Dendrite(p["g_Ld"], p["g_B"], 0 * pA), Dendrite(p["g_Ld"], p["g_A"], 0 * pA)],
    )
    ds = load_recording(tmp_path / "smoke_passive.nc")
    for var, expected in (("v_s", v_s), ("v_b", v_b), ("v_a", v_a)):
        da = ds[f"steady_state_cell_{var}"]
        assert da.attrs["units"] == "volt"
        # relative error of the depolarisation, the quantity the current causes
        assert_close(
            (da.values[0] - float(p["E_L"])), float(expected - p["E_L"]), rtol=1e-3, what=var
        )
    assert ds.attrs["seed"] == 1 and "smoke_passive" in ds.attrs["protocol"]
    assert ds.cell_v_s.attrs["compartment"] == "soma"


def test_targets_agree(tmp_path):
    """numpy, cython and cpp_standalone runs of one protocol give the same traces."""
    traces = {}
    for target in ("numpy", "cython", "cpp_standalone"):
        protocol = load_protocol(
            "smoke_passive",
            [f"target={target}", "duration=100 ms", "stimuli.0.stop=80 ms", "analysis=[]"],
        )
        ds = run_protocol(protocol, tmp_path / target, progress=False).dataset
        assert ds.attrs["target"] == target
        traces[target] = ds.cell_v_s.values
    for target in ("cython", "cpp_standalone"):
        # same equations, different compilers: agreement to rounding
        assert_close(traces[target], traces["numpy"], atol=1e-12, what=target)
