"""Atomic writes: a file or folder appears under its final name complete or not at all.

A write goes to a hidden temporary folder next to the target,
``.{name}.{pid}-{random}.tmp``, and is renamed into place when it is complete.
A process killed in the middle of a write leaves such a folder behind; the next
write of the same target (or :func:`remove_stale`, which runs at the start of
every protocol and training run) removes it once the process that made it is
gone.

Test hook: with ``NEUROSIM_TEST_KILL_AT=NAME`` (or ``NAME:N``) in the
environment, the process kills itself with SIGKILL right before it renames the
first (N-th) complete temporary of a target called ``NAME`` into place, the
worst moment for a crash; the kill/resume tests use it to stop a run inside a
checkpoint or its final write. Nothing else reads this variable.

Kept free of Brian2 and xarray so that the torch-only parts (learned optimizer,
RL agents) import without the simulator.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "remove_empty_dirs", "remove_stale"]

#: Environment variable of the test hook (see the module docstring).
KILL_AT = "NEUROSIM_TEST_KILL_AT"
_replaced: dict[str, int] = {}
_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[^.]+\.tmp$")
_OLD_TMP = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale(folder: str | Path, name: str | None = None) -> list[Path]:
    """Remove temporaries of interrupted atomic writes in ``folder``.

    Parameters
    ----------
    folder : str or Path
        Where the targets live; a missing folder has nothing to clean.
    name : str, optional
        Only the temporaries of the target with this file name.

    Returns
    -------
    list of Path
        The temporaries removed: those whose writing process no longer runs
        (temporaries of writes in progress are left alone).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        match = _TMP.match(entry.name)
        if match is not None:
            stale = not _alive(int(match["pid"]))
        else:
            # the naming before process ids were part of it: nobody can still be writing
            match = _OLD_TMP.match(entry.name)
            stale = match is not None
        if not stale or not entry.is_dir() or (name is not None and match["name"] != name):
            continue
        final, complete = folder / match["name"], entry / match["name"]
        if (entry / ".old").exists() and complete.exists() and not final.exists():
            # killed between swapping out an old folder and moving the new one in
            os.replace(complete, final)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def remove_empty_dirs(path: str | Path, keep: str | Path | None = None) -> None:
    """Remove ``path`` and its parents up to ``keep`` (excluded) while they are empty.

    Never removes a folder that holds anything (``os.rmdir`` refuses).
    """
    path, keep = Path(path), Path(keep) if keep is not None else None
    while path != keep and path != path.parent:
        try:
            path.rmdir()
        except OSError:
            return
        path = path.parent


def _kill_hook(path: Path) -> None:
    spec = os.environ.get(KILL_AT)
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != path.name:
        return
    _replaced[name] = _replaced.get(name, 0) + 1
    if _replaced[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place on success.

    Works for files and folders (Zarr stores). On an exception the temporary
    is removed, an existing ``path`` is left untouched and folders this call
    created for it are removed again. Stale temporaries of ``path`` left by
    killed processes are removed first.
    """
    path = Path(path)
    created = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, path.name)
    tmp = Path(
        tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    )
    target = tmp / path.name
    done = False
    try:
        yield target
        _kill_hook(path)
        if path.is_dir() and not path.is_symlink():
            # os.replace cannot replace a non-empty folder: swap it out first.
            old = tmp / ".old"
            os.replace(path, old)
            os.replace(target, path)
        else:
            os.replace(target, path)
        done = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not done:
            remove_empty_dirs(path.parent, keep=created)
