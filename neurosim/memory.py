"""Memory estimates checked before anything large is built.

Every part of neurosim that allocates in proportion to a user's numbers
(neurons and recordings of a protocol, GP samples of the learned optimizer's
training, networks and replay buffers of the RL agents) estimates what it
will need and calls :func:`require_memory` first, so that a size the machine
cannot hold is one line naming the estimate, not a MemoryError (or the
kernel's OOM killer) minutes later.

Worker processes are limited the same way (:func:`max_workers`), since each
one holds its own interpreter, simulator and data.

Kept free of Brian2 and torch, like :mod:`neurosim.atomic`.
"""

from __future__ import annotations

import os

from neurosim.errors import NeurosimError

__all__ = ["available_memory", "check_workers", "format_bytes", "max_workers", "require_memory"]


def max_workers() -> int:
    """Most worker processes a run may start here: 4 per core, and never fewer than 64."""
    return max(64, 4 * (os.cpu_count() or 1))


def check_workers(n: int, where: str) -> None:
    """Refuse, in one line naming ``where``, more worker processes than :func:`max_workers`.

    Each worker is a process with its own interpreter (and Brian2 or torch
    state), so thousands of them exhaust memory and process slots long before
    they would help.
    """
    limit = max_workers()
    if n > limit:
        raise NeurosimError(
            f"{where}: at most {limit} on this machine ({os.cpu_count()} cores), got {n}"
        )


def available_memory() -> int | None:
    """Bytes of memory available to a new run (psutil, else /proc/meminfo; None if unknown)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def format_bytes(n: float) -> str:
    """``n`` bytes with a decimal prefix and 3 significant digits (``'25.6 GB'``)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"


def require_memory(
    parts: dict[str, float], where: str, advice: str, subject: str | None = None
) -> None:
    """Refuse, in one line, a job whose estimated memory exceeds what is available.

    Parameters
    ----------
    parts : dict of str to float
        Estimated bytes by part (named in the message).
    where : str
        What is refused (a file and key, a config class).
    advice : str
        What to make smaller.
    subject : str, optional
        What needs the memory, if ``where`` does not say it (``"the run"``).

    Raises
    ------
    NeurosimError
        If the sum of ``parts`` exceeds :func:`available_memory` (nothing is
        refused when the available memory is unknown).
    """
    total = sum(parts.values())
    available = available_memory()
    if available is None or total <= available:
        return
    detail = ", ".join(f"{k} {format_bytes(v)}" for k, v in parts.items() if v)
    who = f"{subject} needs" if subject else "needs"
    raise NeurosimError(
        f"{where}: {who} about {format_bytes(total)} of memory ({detail}), more than the "
        f"{format_bytes(available)} available; {advice}"
    )
