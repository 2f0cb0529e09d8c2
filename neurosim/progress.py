"""Progress bars that show on a terminal only.

Every long command draws its bar through :func:`progress_bar`: on a terminal
a tqdm bar on stderr; in a log file, a pipe or CI nothing (tqdm's
``disable=None``), so bars are never interleaved into logs.
"""

import sys
from typing import Any

__all__ = ["brian2_report", "progress_bar"]


def progress_bar(*args: Any, enabled: bool = True, **kwargs: Any):
    """A tqdm bar shown only when ``enabled`` and stderr is a terminal.

    Parameters
    ----------
    *args, **kwargs
        Passed to ``tqdm.tqdm`` (an iterable, ``total``, ``desc``, ...).
    enabled : bool
        False (``--quiet``) never shows it.
    """
    from tqdm import tqdm

    return tqdm(*args, disable=None if enabled else True, **kwargs)


class _Brian2Bar:
    """Brian2 ``report`` callback drawing a tqdm bar (runtime targets)."""

    def __init__(self, label: str):
        self.bar = progress_bar(
            total=100,
            desc=label,
            unit="%",
            leave=False,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
        )

    def __call__(self, elapsed, completed, start, duration):
        self.bar.n = round(100 * float(completed), 1)
        self.bar.refresh()
        if completed >= 1:
            self.bar.close()


def brian2_report(label: str, standalone: bool, enabled: bool = True):
    """What to pass as Brian2's ``report``: None off a terminal or when not ``enabled``.

    On a terminal: ``"stderr"`` for ``cpp_standalone`` (the compiled program
    prints its own progress lines; no Python callback runs there), else a
    tqdm bar fed by Brian2's callback.
    """
    if not enabled or not sys.stderr.isatty():
        return None
    return "stderr" if standalone else _Brian2Bar(label)
