"""Paths a user writes (in a protocol, with ``--set``, on the command line), checked once.

``Path(value).expanduser()`` raises ``RuntimeError`` for ``~nosuchuser/...``,
``is_file()`` raises ``OSError`` for a name longer than the file system allows
and ``ValueError`` for one holding a NUL byte. :func:`user_path` turns each of
these into the one line that names the setting, so that every loader can then
probe the path without guarding each call.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from neurosim.errors import NeurosimError, excerpt

__all__ = ["user_path"]

# Errors a lookup answers with for a path that simply is not there yet.
_ABSENT = (errno.ENOENT, errno.ENOTDIR)


def user_path(value: Any, where: str) -> Path:
    """`value` as a path with ``~`` expanded; one line naming `where` if it cannot be one.

    Parameters
    ----------
    value : str or os.PathLike
        What the user wrote.
    where : str
        The setting it came from (``training.dataset``), quoted in the error.

    Returns
    -------
    Path
        The expanded path. It may not exist; if it does not, looking it up
        later cannot raise (it was looked up here).

    Raises
    ------
    NeurosimError
        Not a string, an empty string, a NUL byte, an unknown user's ``~``,
        a name too long for the file system, or a folder on the way that
        cannot be searched.

    Examples
    --------
    >>> user_path("~/data", "x") == Path.home() / "data"
    True
    """
    if not isinstance(value, (str, os.PathLike)):
        raise NeurosimError(f"{where}: expected a path, got {excerpt(value)}")
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip():
        raise NeurosimError(f"{where}: expected a path, got {excerpt(value)}")
    if "\0" in text:
        raise NeurosimError(f"{where}: a path cannot hold a NUL byte: {excerpt(text)}")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~user" for a user this machine does not know
        raise NeurosimError(f"{where}: cannot expand {excerpt(text)} (no such user)") from None
    try:
        path.stat()
    except OSError as exc:
        if exc.errno not in _ABSENT:
            raise NeurosimError(
                f"{where}: cannot look up {excerpt(str(path))}: {exc.strerror}"
            ) from None
    return path
