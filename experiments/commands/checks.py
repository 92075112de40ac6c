"""Checks every command runs on its options before any work, so bad numbers, model paths and
output paths are one `error:` line (exit 2) and leave nothing behind."""

from __future__ import annotations

import math
from pathlib import Path

from mimicry.data.errors import InputError


def positive(value: int | float | None, field: str, *, allow_zero: bool = False) -> None:
    """Refuse a non-finite, negative (or zero) number; None passes (the option's default)."""
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"must be a finite number, got {value!r}", field=field)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"must be {bound}, got {value!r}", field=field)


def finite_list(text: str, field: str) -> list[float]:
    """A comma-separated list of finite numbers; empty entries and non-numbers are refused."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise InputError(f"empty entry in comma-separated list {text!r}", field=field)
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"not a number: {part!r} in {text!r}", field=field) from None
        if not math.isfinite(value):
            raise InputError(f"must be finite, got {part!r} in {text!r}", field=field)
        values.append(value)
    return values


def model_source(source: str | Path, *, field: str, device: str | None = None) -> None:
    from mimicry.probes.loading import check_model_source

    check_model_source(source, device=device, field=field)


def tokenizer_source(source: Path | None, *, field: str = "tokenizer") -> None:
    if source is None:
        return
    from mimicry.probes.loading import check_model_source

    check_model_source(source, field=field, kind="tokenizer")


def existing_file(path: Path | None, field: str) -> None:
    """An input file must exist and be a file (a clear line, not a traceback later)."""
    if path is None:
        return
    if not path.exists():
        raise InputError("no such file", file=path, field=field)
    if path.is_dir():
        raise InputError("is a folder; expected a file", file=path, field=field)


def _first_line(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.readline(1 << 16).decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def is_trace_file(path: Path) -> bool:
    """A JSONL file whose first line is a trace record (generate's own output)."""
    import json

    try:
        record = json.loads(_first_line(path))
    except ValueError:
        return False
    return isinstance(record, dict) and "item_id" in record


def suite_trace_file(path: Path, looks_like=is_trace_file) -> bool:
    """A file this suite may replace: recorded in its folder's ledger as written by the suite
    and unchanged since, or a trace file inside a pipeline run folder (the suite's own)."""
    from mimicry.data.fileio import is_recorded_output
    from mimicry.data.lock import enclosing_run

    if is_recorded_output(path):
        return True
    return enclosing_run(path) is not None and looks_like(path)


def is_steer_table(path: Path) -> bool:
    """A CSV whose header is the steering table's (steer's own output)."""
    header = _first_line(path).split(",")
    return "alpha" in header
