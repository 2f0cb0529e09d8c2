"""IDX files (LeCun's format of MNIST and its siblings), gzip-compressed or not."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from neurosim.errors import NeurosimError

__all__ = ["IDX_IMAGES_MAGIC", "IDX_LABELS_MAGIC", "parse_idx", "read_idx", "read_maybe_gzip"]

IDX_IMAGES_MAGIC = 2051
"""Magic number of an IDX file of uint8 images (n, rows, columns)."""
IDX_LABELS_MAGIC = 2049
"""Magic number of an IDX file of uint8 labels (n,)."""

# IDX type codes (third byte of the magic number); IDX data is big-endian.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike[str], *, magic: int | None = None) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Compression is detected from the content, not the name.
    magic : int, optional
        Required magic number (2051 for MNIST images, 2049 for labels).

    Returns
    -------
    numpy.ndarray
        The array with the shape stored in the header, in native byte order.

    Raises
    ------
    NeurosimError
        If the file cannot be read, or its header is malformed, has another magic
        number than `magic`, or disagrees with the length of the data.
    """
    path = Path(path)
    return parse_idx(read_maybe_gzip(path), str(path), magic)


def read_maybe_gzip(path: Path) -> bytes:
    """The file's bytes, gunzipped when they start with gzip's magic."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except FileNotFoundError:
        raise NeurosimError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise NeurosimError(f"cannot read {path}: {exc}") from exc


def parse_idx(data: bytes, source: str, magic: int | None) -> np.ndarray:
    """Parse IDX bytes (already decompressed); `source` names them in errors."""
    if len(data) < 4:
        raise NeurosimError(f"{source}: not an IDX file ({len(data)} bytes, no header)")
    found = int.from_bytes(data[:4], "big")
    if magic is not None and found != magic:
        raise NeurosimError(f"{source}: bad IDX magic number {found}, expected {magic}")
    zero, type_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    dtype = _IDX_DTYPES.get(type_code)
    if zero != 0 or dtype is None or ndim == 0:
        raise NeurosimError(f"{source}: bad IDX magic number {found} (0x{found:08x})")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise NeurosimError(f"{source}: IDX header truncated ({len(data)} bytes)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_len + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise NeurosimError(
            f"{source}: IDX header says shape {shape} ({expected} bytes), "
            f"the data has {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)
