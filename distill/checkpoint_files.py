"""Is a Trainer checkpoint whole? A kill during its write leaves files missing or truncated.

A resume must never pick such a checkpoint (every resume would then fail): the SFT students drop
incomplete ones before resuming, so training restarts from the last whole checkpoint.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

# A Trainer checkpoint is usable only with all of these (weights: any one of the names).
_WEIGHTS = (
    "model.safetensors",
    "adapter_model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "adapter_model.bin",
    "pytorch_model.bin.index.json",
)
_REQUIRED = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


def drop_incomplete_checkpoints(checkpoints: Path) -> None:
    """Remove checkpoint folders a kill left half-written (a file missing or truncated), so a
    resume falls back to the previous complete checkpoint, or to a fresh start when none is.
    Without this `get_last_checkpoint` picks the broken one and every resume fails."""
    for path in sorted(checkpoints.iterdir()):
        if not path.is_dir():
            continue
        if path.name.startswith("tmp-checkpoint-") or (
            path.name.startswith("checkpoint-") and checkpoint_problem(path) is not None
        ):
            shutil.rmtree(path)


def checkpoint_problem(path: Path) -> str | None:
    """Why a Trainer checkpoint folder can't be resumed from, or None when it looks complete:
    every required file present and whole (JSON parses, safetensors and torch zip files end
    where their headers say)."""
    for name in _REQUIRED:
        if not (path / name).is_file():
            return f"{name} is missing"
    try:
        json.loads((path / "trainer_state.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return "trainer_state.json is not valid JSON"
    weights = [path / name for name in _WEIGHTS if (path / name).is_file()]
    if not weights:
        return "no model weights file"
    files = [path / name for name in _REQUIRED[1:]] + weights
    for name in ("rng_state.pth", "scaler.pt"):
        if (path / name).is_file():
            files.append(path / name)
    for file in weights:
        if file.name.endswith(".index.json"):
            try:
                shards = set(json.loads(file.read_text())["weight_map"].values())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, AttributeError):
                return f"{file.name} is not valid"
            files.extend(path / shard for shard in sorted(shards))
    for file in files:
        if file.name.endswith(".index.json"):
            continue
        if not file.is_file():
            return f"{file.name} is missing"
        whole = _safetensors_whole(file) if file.suffix == ".safetensors" else _zip_whole(file)
        if not whole:
            return f"{file.name} is truncated"
    return None


def _safetensors_whole(file: Path) -> bool:
    """The header parses and the last tensor ends at the end of the file."""
    import struct

    size = file.stat().st_size
    try:
        with file.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if 8 + length > size:
                return False
            header = json.loads(handle.read(length))
        ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    except (OSError, struct.error, ValueError, KeyError, TypeError, AttributeError):
        return False
    return 8 + length + max(ends, default=0) == size


def _zip_whole(file: Path) -> bool:
    """torch.save writes zip archives, whose directory is at the end: truncation loses it. A
    legacy (non-zip) torch file is accepted as it is."""
    import zipfile

    try:
        with file.open("rb") as handle:
            magic = handle.read(4)
    except OSError:
        return False
    if magic != b"PK\x03\x04":
        return len(magic) == 4 and magic[:2] != b"PK"
    try:
        with zipfile.ZipFile(file) as archive:  # reads only the directory at the end
            return all(
                i.header_offset + i.compress_size <= file.stat().st_size for i in archive.infolist()
            )
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False
