"""One writer per run folder: a lock file holding the writer's pid and host.

`run_lock(run_dir)` creates `RUN/.mimicry.lock` atomically (written to a temporary file, then
hard-linked into place, so a reader never sees a half-written lock). A second writer finds the
lock and is refused at once with a one-line `InputError`. A lock whose process is gone (same
host, pid not alive) was left by a killed run and is taken over. The lock is re-entrant within
one process, so a command that locks a run folder may call code that locks it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mimicry.data.errors import InputError

LOCK_NAME = ".mimicry.lock"


def owner_tag() -> str:
    """`PID@HOST8`: this process and its (hashed) host, part of every temporary name, so a later
    run can tell a temporary left by a killed writer from one a live writer is filling."""
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    return f"{os.getpid()}@{host}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(lock: Path) -> dict | None:
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def holder(run_dir: str | Path) -> dict | None:
    """The live holder of `run_dir`'s lock ({pid, host}), or None when it is free or stale."""
    info = _read(Path(run_dir) / LOCK_NAME)
    if info is None:
        return None
    pid, host = info.get("pid"), info.get("host")
    if host == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid):
        return None
    return info


def _try_create(lock: Path, info: dict) -> bool:
    fd, name = tempfile.mkstemp(prefix=f"{LOCK_NAME}.tmp-{owner_tag()}-", dir=lock.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(info, handle)
        try:
            os.link(name, lock)
        except FileExistsError:
            return False
        return True
    finally:
        Path(name).unlink(missing_ok=True)


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[Path]:
    """Hold `run_dir`'s writer lock for the block (creating the folder if needed)."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError("exists and is not a folder; expected a run folder", file=run_dir)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = run_dir / LOCK_NAME
    from mimicry.data.fileio import remove_stale_temps  # fileio imports this module

    remove_stale_temps(run_dir, LOCK_NAME.removeprefix("."))  # a killed locker's temporaries
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(3):
        if _try_create(lock, me):
            break
        info = _read(lock)
        if info is not None and info.get("pid") == me["pid"] and info.get("host") == me["host"]:
            yield lock  # re-entrant: the outer holder releases it
            return
        current = holder(run_dir)
        if current is not None:
            raise InputError(
                f"run folder is in use by process {current.get('pid')} on "
                f"{current.get('host')} (lock {lock}); wait for it to finish, or delete the lock "
                "if that process is gone",
                file=run_dir,
            )
        # Stale (the writer was killed) or unreadable: take it over. Rename it aside first, so
        # two processes taking over at once cannot both succeed.
        stale = lock.with_name(f"{LOCK_NAME}.old-{owner_tag()}")
        try:
            os.replace(lock, stale)
        except FileNotFoundError:
            continue
        stale.unlink(missing_ok=True)
    else:
        raise InputError(f"could not take the lock {lock}", file=run_dir)
    try:
        yield lock
    finally:
        info = _read(lock)
        if info is not None and info.get("pid") == me["pid"]:
            lock.unlink(missing_ok=True)
        if created and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a refused start leaves no empty folder behind


def enclosing_run(path: str | Path) -> Path | None:
    """The run folder (it holds the pipeline's run marker) that `path` lies in, or None."""
    from mimicry.data.fileio import RUN_MARKER  # fileio imports this module

    for folder in Path(path).absolute().parents:
        if (folder / RUN_MARKER).is_file():
            return folder
    return None


@contextlib.contextmanager
def output_lock(*paths: str | Path | None) -> Iterator[Path | None]:
    """Hold the writer lock of the run folder an output path lies in, for the block.

    Stage commands that write one file (`generate`, `distill`, `behaviour`, `steer`, ...) into a
    pipeline's run folder are writers of that folder like `mimicry run`: a second writer is
    refused. Outputs outside any run folder need no lock.
    """
    runs = {r for r in (enclosing_run(p) for p in paths if p is not None) if r is not None}
    with contextlib.ExitStack() as stack:
        for run in sorted(runs):
            stack.enter_context(run_lock(run))
        yield next(iter(sorted(runs)), None)
