"""The one exception type that reaches a user as a single line."""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

__all__ = ["MAX_EXCERPT", "NeurosimError", "excerpt", "one_line", "unreadable_file"]

#: Longest excerpt of a user's value that an error message quotes.
MAX_EXCERPT = 60

_REPR = reprlib.Repr()
_REPR.maxstring = MAX_EXCERPT
_REPR.maxother = MAX_EXCERPT
_REPR.maxlong = 40
_REPR.maxlevel = 3
for _attr in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset"):
    setattr(_REPR, _attr, 4)


class NeurosimError(Exception):
    """A user-facing error: one line that names what was wrong.

    The CLI prints the message on stderr and exits with status 2; everything
    else (a bug) keeps its traceback.
    """


def unreadable_file(path: str | Path, what: str) -> NeurosimError:
    """The error for a file that does not read as a neurosim ``what``, naming an empty one."""
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        return NeurosimError(f"{path}: the file is empty, not a neurosim {what}")
    return NeurosimError(f"{path} is truncated or not a neurosim {what}")


def excerpt(value: Any, limit: int = MAX_EXCERPT) -> str:
    """A short ``repr`` of a user's value for an error message.

    Values read from data files can be huge (a YAML alias bomb expands to
    billions of items, a line can hold megabytes); a message quotes at most
    ``limit`` characters of them, on one line.

    Examples
    --------
    >>> len(excerpt("x" * 10_000)) <= MAX_EXCERPT
    True
    >>> excerpt([1, 2])
    '[1, 2]'
    """
    try:
        text = _REPR.repr(value)
    except Exception:  # a foreign object whose repr fails: name its type only
        text = f"<{type(value).__name__}>"
    closing = text[:1] if text[:1] in ("'", '"') else ""
    return one_line(text, limit, closing)


ERROR_LINE_LIMIT = 420
"""Most characters of the one error line the CLI prints (after ``neurosim: error: ``):
room for a long path and two SHA-256 digests, as a checksum mismatch names them."""


def one_line(text: str, limit: int, closing: str = "") -> str:
    """``text`` with its whitespace runs made single spaces, cut to ``limit`` characters.

    A cut text ends in ``...`` followed by ``closing`` (a quote to close).
    """
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3 - len(closing)] + "..." + closing
    return text
