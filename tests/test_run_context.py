"""The run context: Brian2 preferences restored after a run, the precompiled header."""

import subprocess
from pathlib import Path

from brian2 import prefs

from neurosim import runner


def test_preferences_are_restored_after_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path))
    before = {name: prefs[name] for name in ("codegen.target", "codegen.runtime.cython.cache_dir")}
    with runner.brian2_target("cython", "context-test", 0):
        assert prefs["codegen.target"] == "cython"
        assert prefs["codegen.runtime.cython.cache_dir"] == str(tmp_path / "cython")
    assert {name: prefs[name] for name in before} == before


def test_precompiled_header_is_built_once_and_used_by_the_compiler(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path))
    flags = ["-w", "-O2", "-std=c++11"]
    (flag,) = runner.precompiled_header(flags)
    header = flag.removeprefix("-include")
    gch = Path(header + ".gch")
    assert header.startswith(str(tmp_path / "pch")) and gch.is_file()
    stamp = gch.stat().st_mtime_ns
    assert runner.precompiled_header(flags) == [flag]  # cached, not rebuilt
    assert gch.stat().st_mtime_ns == stamp
    # g++ -H lists the headers it opens: the .gch ("!") instead of <vector> itself
    source = tmp_path / "t.cpp"
    source.write_text("#include <vector>\nint f() { return std::vector<int>(3).size(); }\n")
    done = subprocess.run(
        ["g++", "-H", *flags, flag, "-c", str(source), "-o", str(tmp_path / "t.o")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"! {gch}" in done.stderr
    # other flags: another header (a mismatched one would be parsed, not used)
    assert runner.precompiled_header([*flags, "-O3"]) != [flag]
