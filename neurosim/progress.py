"""Progress bars that show on a terminal only.

Every long command draws its bar through :func:`progress_bar`: on a terminal
a tqdm bar on stderr; in a log file, a pipe or CI nothing (tqdm's
``disable=None``), so bars are never interleaved into logs.
"""

from typing import Any

__all__ = ["progress_bar"]


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
