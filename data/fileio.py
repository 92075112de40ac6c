"""Atomic outputs and input hashes: the run-directory contract's write-then-rename and skip-on-rerun.

Every stage writes to a temporary sibling and renames it into place only when complete, so a
killed stage never leaves a half-written file that a later stage could mistake for a result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from mimicry.data.errors import InputError
from mimicry.data.lock import owner_tag, pid_alive

STAMP_NAME = ".mimicry-stamp.json"
# Written into every folder `atomic_dir` publishes whose writer left no stamp, so a later run
# recognises the folder as the suite's own output (and may replace it) and anything else as the
# user's (and refuses to touch it).
OWNED_NAME = ".mimicry-output"
# Written into a run folder when a run starts (see `claim_run_dir`).
RUN_MARKER = ".mimicry-run"
# Kept in a folder that holds files a command wrote with `record_output` (e.g. `data export
# --out`): their names and fingerprints, so a re-run may replace them and nothing else.
WRITTEN_NAME = ".mimicry-written.json"
# Names that mark a whole folder as the suite's (the ledger does not: it vouches for its files
# only, and sits in the user's folders).
_OWN_FOLDER = (STAMP_NAME, OWNED_NAME, RUN_MARKER)
_BOOKKEEPING = (*_OWN_FOLDER, WRITTEN_NAME)


def is_suite_output(path: str | Path) -> bool:
    """True when `path` is an empty folder or a folder this suite wrote (stamp or marker)."""
    path = Path(path)
    if not path.is_dir():
        return False
    if any((path / name).exists() for name in _OWN_FOLDER):
        return True
    return not any(path.iterdir())


def check_out_dir(path: str | Path, *, field: str = "out") -> Path:
    """Refuse, before any work, an output folder this suite may not replace: a file, or a
    non-empty folder it did not write. Missing or own folders pass (re-runs replace them)."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise InputError(
            "is a broken symbolic link; refusing to replace it", file=path, field=field
        )
    if not path.exists():
        _check_parent(path, field)
        return path
    if not path.is_dir():
        raise InputError(
            "exists and is not a folder; refusing to replace it (choose a new --out)",
            file=path,
            field=field,
        )
    if not is_suite_output(path):
        raise InputError(
            "is a non-empty folder that mimicry did not write; refusing to replace it "
            "(choose a new or empty --out)",
            file=path,
            field=field,
        )
    return path


def check_out_file(
    path: str | Path, *, field: str = "out", own: Callable[[Path], bool] | None = None
) -> Path:
    """Refuse an output file path that is a folder, whose parent is not a writable folder, or an
    existing non-empty file this suite did not write: `own(path)` decides when given, else the
    folder's ledger of files written with `record_output` (unchanged since)."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder; expected a file path", file=path, field=field)
    if path.is_symlink() and not path.exists():
        raise InputError(
            "is a broken symbolic link; refusing to replace it", file=path, field=field
        )
    recognise = own if own is not None else is_recorded_output
    if path.is_file() and path.stat().st_size and not recognise(path):
        raise InputError(
            "exists and was not written by this command; refusing to replace it "
            f"(choose a new --{field.replace('_', '-')})",
            file=path,
            field=field,
        )
    _check_parent(path, field)
    return path


def _check_parent(path: Path, field: str) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{parent} is a file, not a folder", file=path, field=field)
            if not os.access(parent, os.W_OK | os.X_OK):
                raise InputError(
                    f"cannot write into {parent} (permission denied)", file=path, field=field
                )
            return


# What follows `.NAME.` in a temporary's name: tmp-PID@HOST-<random> or old-PID@HOST.
_LEFTOVER = re.compile(r"(?:tmp|old)-(?P<pid>\d+)@(?P<host>[0-9a-f]{8})(?:-[A-Za-z0-9_]+)?")


def remove_stale_temps(parent: str | Path, name: str) -> list[Path]:
    """Remove the temporaries `atomic_dir`/`atomic_file` left beside `parent/name` when their
    writer was killed: `.NAME.tmp-PID@HOST-*` and `.NAME.old-PID@HOST` whose process on this
    host is gone. Anything else (other names, live or foreign writers) is left alone.

    Returns the paths removed."""
    parent = Path(parent)
    mine = owner_tag()
    host = mine.split("@")[1]
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(f".{name}."):
            continue
        match = _LEFTOVER.fullmatch(entry.name[len(name) + 2 :])
        if match is None or match["host"] != host or pid_alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_mode(path: Path, *, directory: bool) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; outputs get the usual umask mode."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary directory that becomes `path` only if the block finishes.

    On any exception the temporary directory is removed and `path` is left untouched,
    so bad input never leaves a partial output directory behind. Temporaries a killed writer
    left for the same `path` are removed first (`remove_stale_temps`).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(final.parent, final.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-{owner_tag()}-", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish_mode(tmp, directory=True)
    if not (tmp / STAMP_NAME).exists():
        (tmp / OWNED_NAME).write_text(
            "written by mimicry; this folder may be replaced by a re-run\n"
        )
    if final.exists() or final.is_symlink():
        if not replace:
            shutil.rmtree(tmp, ignore_errors=True)
            raise FileExistsError(final)
        if final.is_symlink() or not is_suite_output(final):
            shutil.rmtree(tmp, ignore_errors=True)
            what = "a folder mimicry did not write" if final.is_dir() else "not a folder"
            raise InputError(f"is {what}; refusing to replace it", file=final)
        old = final.with_name(f".{final.name}.old-{owner_tag()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path in the same directory; rename it onto `path` on success.
    Temporaries a killed writer left for the same `path` are removed first."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(final.parent, final.name)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.tmp-{owner_tag()}-", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _publish_mode(tmp, directory=False)
    os.replace(tmp, final)


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically, sorted and indented so diffs between runs are readable."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def _ledger(folder: Path) -> dict:
    try:
        data = json.loads((folder / WRITTEN_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def record_output(path: str | Path) -> None:
    """Note in the folder's ledger (`.mimicry-written.json`) that this suite wrote `path` as it
    now is, so `check_out_file` lets a later run replace it. Entries for files that are gone
    are dropped."""
    path = Path(path)
    folder = path.parent
    ledger = {name: entry for name, entry in _ledger(folder).items() if (folder / name).is_file()}
    ledger[path.name] = _file_fingerprint(path)
    write_json(folder / WRITTEN_NAME, ledger)


def is_recorded_output(path: str | Path) -> bool:
    """True when the folder's ledger holds `path` with its current size and content hash (a
    file the suite wrote and nobody changed since)."""
    path = Path(path)
    entry = _ledger(path.parent).get(path.name)
    return path.is_file() and entry == _file_fingerprint(path)


def hash_inputs(*parts: Any) -> str:
    """SHA-256 over files (by content), directories (recursively, by relative path and content)
    and JSON-serialisable values, in order. Used to skip a stage whose inputs have not changed."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            if part.is_dir():
                for sub in sorted(p for p in part.rglob("*") if p.is_file()):
                    if sub.name in (STAMP_NAME, OWNED_NAME) or ".tmp-" in sub.name:
                        continue
                    digest.update(str(sub.relative_to(part)).encode())
                    _update_with_file(digest, sub)
            elif part.is_file():
                _update_with_file(digest, part)
            else:
                digest.update(f"<missing {part.name}>".encode())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


# Files up to this size are hashed whole; larger ones (weight shards) by size and their first
# and last MiB, so checking a 60 GB model reads a few tens of MiB, not the weights.
_SMALL_FILE = 64 << 20
_EDGE = 1 << 20


def model_fingerprint(
    source: str | Path, *, revision: str | None = None, ignore: Collection[str] = ()
) -> dict:
    """Identity of a model for input hashes: a local folder by the content of its files (small
    files whole, large ones by size and first/last MiB, so copies and fresh clones keep their
    identity while edited weights change it), a hub name by name and revision. `ignore`: file
    names left out (a folder's own stamp, for instance)."""
    path = Path(source)
    if not path.is_dir():
        return {"hub": str(source), "revision": revision}
    files = []
    for file in sorted(
        p for p in path.rglob("*") if p.is_file() and p.name not in ignore and p.name != OWNED_NAME
    ):
        files.append([file.relative_to(path).as_posix(), *_file_fingerprint(file)])
    return {"files": files}


def _file_fingerprint(file: Path) -> list:
    """[size, sha256]: small files whole, large ones by size and first/last MiB."""
    size = file.stat().st_size
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        if size <= _SMALL_FILE:
            digest.update(handle.read())
        else:
            digest.update(handle.read(_EDGE))
            handle.seek(size - _EDGE)
            digest.update(handle.read())
    return [size, digest.hexdigest()]


def output_fingerprint(path: str | Path) -> Any:
    """Identity of a stage output for its stamp: a file by size and content hash (large files by
    size and first/last MiB, as `model_fingerprint`), a folder by `model_fingerprint` of its
    files (bookkeeping and `.tmp-` files left out), a missing path as None."""
    path = Path(path)
    if path.is_file():
        return _file_fingerprint(path)
    if path.is_dir():
        files = [
            f for f in model_fingerprint(path, ignore=_BOOKKEEPING)["files"] if ".tmp-" not in f[0]
        ]
        return {"files": files}
    return None


def _update_with_file(digest: Any, path: Path) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def write_stamp(directory: str | Path, inputs_hash: str, **info: Any) -> None:
    """Mark a stage output directory as complete for the given inputs."""
    write_json(Path(directory) / STAMP_NAME, {"inputs_hash": inputs_hash, **info})


def is_fresh(directory: str | Path, inputs_hash: str) -> bool:
    """True when `directory` holds a complete stage output made from the same inputs."""
    stamp = Path(directory) / STAMP_NAME
    if not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text()).get("inputs_hash") == inputs_hash
    except (OSError, json.JSONDecodeError):
        return False
