"""Exports of recordings to the community formats: NWB (pynwb) and Neo."""

from neurosim.export.neo import to_neo, write_neo
from neurosim.export.nwb import to_nwb

__all__ = ["FORMATS", "export", "to_neo", "to_nwb", "write_neo"]

#: Export formats of ``neurosim export --format``.
FORMATS = ("nwb", "neo")


def export(ds, fmt: str, path):
    """Write recording ``ds`` to ``path`` as ``fmt`` ("nwb" or "neo"); return the path."""
    from neurosim.errors import NeurosimError

    if fmt == "nwb":
        return to_nwb(ds, path)
    if fmt == "neo":
        return write_neo(ds, path)
    raise NeurosimError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
