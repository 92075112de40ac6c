"""The item table: the one format every stage reads items from (built-in, generated or the user's).

Format (CSV with a header row, or JSONL with one JSON object per line; chosen by the suffix
`.csv` / `.jsonl`; UTF-8):

| column        | required | meaning                                                           |
|---------------|----------|-------------------------------------------------------------------|
| `item_id`     | yes      | unique string id (always read as a string: `007` stays `007`; leading and trailing spaces are removed, so `a1` and `a1 ` are one id, and a duplicate) |
| `task`        | yes      | task name; statistics are computed within task                    |
| `prompt`      | yes      | the text given to the model (non-empty)                            |
| `answer`      | yes      | the correct short answer (non-empty)                               |
| `human_rt_ms` | no       | human difficulty: median RT of correct trials in ms (> 0)          |
| `human_acc`   | no       | human accuracy, 0..1                                               |
| `n_humans`    | no       | people behind the norms (integer >= 0)                             |
| `group`       | no       | template / item family for grouped cross-validation (default: `task`) |
| `feat_*`      | no       | any number of numeric surface features (e.g. `feat_n_premises`)    |

A CSV field may hold at most 131,072 characters (the csv module's limit); longer texts need a
JSONL table. Any other column is kept as text (the built-in and generated tables add `family` and `steps`,
the JSON list of derivation steps). An empty norm or feature cell (or JSON null) is missing
(NaN): it is not an error here, and later stages count items with a missing norm as exclusions.
Bad input raises `data.errors.InputError` naming the file, the row (CSV: 1-based data row, the
header being row 0; JSONL: the line number) and the field.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.fileio import atomic_file
from mimicry.data.textfile import parse_json_object, read_utf8

REQUIRED_COLUMNS = ("item_id", "task", "prompt", "answer")
NORM_COLUMNS = ("human_rt_ms", "human_acc", "n_humans")
TEXT_COLUMNS = (*REQUIRED_COLUMNS, "group")
SUFFIXES = (".csv", ".jsonl")
# Longest CSV field accepted: the csv module's limit (131,072 characters), left as it is because
# it is process-wide state; JSONL item tables have no limit.
MAX_CSV_FIELD = csv.field_size_limit()


def read_items(path: str | Path) -> pd.DataFrame:
    """Read and validate an item table.

    Returns a DataFrame with the required columns (str), `human_rt_ms`/`human_acc` (float, NaN
    when missing), `n_humans` (nullable Int64), `group` (filled with `task` where empty), every
    `feat_*` column as float, and any other column as str.

    Raises:
        InputError: naming file, row and field for anything malformed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"unknown item table suffix {path.suffix!r}: use .csv or .jsonl", file=path
        )
    if not path.is_file():
        raise InputError("no such file", file=path)
    text = read_utf8(path, row_of_line=lambda line: _line_to_row(path, line))
    records = _csv_records(text, path) if suffix == ".csv" else _jsonl_records(text, path)
    if not records:
        raise InputError("empty file: no items", file=path)
    return _validate(records, path)


def _line_to_row(path: Path, line: int) -> int:
    """Row number of a 1-based file line (CSV: the header is row 0; JSONL: the line itself)."""
    return line - 1 if path.suffix.lower() == ".csv" else line


def _csv_records(text: str, path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not text.strip():
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise InputError(
                f"a header field is longer than {MAX_CSV_FIELD:,} characters", file=path, row=0
            ) from None
        raise InputError(f"malformed CSV header: {error}", file=path, row=0) from None
    header = [h.strip() for h in header]
    _check_header(header, path)
    records = []
    row_number = 0  # the row being read when the csv module raises is the one after the last
    try:
        for row_number, values in enumerate(reader, start=1):
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise InputError(
                    f"{len(values)} fields but the header has {len(header)}",
                    file=path,
                    row=row_number,
                )
            records.append((row_number, dict(zip(header, values, strict=True))))
    except csv.Error as error:
        row = row_number + 1
        if "field larger than field limit" in str(error):
            raise InputError(
                f"a field is longer than {MAX_CSV_FIELD:,} characters, the limit for item-table "
                "CSV fields; use a .jsonl item table for longer texts",
                file=path,
                row=row,
            ) from None
        raise InputError(f"malformed CSV: {error}", file=path, row=row) from None
    return records


def _check_header(header: list[str], path: Path) -> None:
    seen = set()
    for name in header:
        if not name:
            raise InputError("empty column name in header", file=path, row=0)
        if name in seen:
            raise InputError("duplicate column in header", file=path, row=0, field=name)
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            raise InputError("missing required column", file=path, row=0, field=name)


def _jsonl_records(text: str, path: Path) -> list[tuple[int, dict[str, Any]]]:
    records = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        record = parse_json_object(line, path, line_number)
        for name in REQUIRED_COLUMNS:
            if name not in record:
                raise InputError("missing required field", file=path, row=line_number, field=name)
        records.append((line_number, record))
    return records


def _text(value: Any, path: Path, row: int, field: str, *, required: bool) -> str:
    if value is None:
        value = ""
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise InputError(f"expected text, got {json.dumps(value)}", file=path, row=row, field=field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if required and not text.strip():
        raise InputError("empty value", file=path, row=row, field=field)
    return text


def _number(value: Any, path: Path, row: int, field: str) -> float:
    """Parse a number; empty / null means missing (NaN)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"not a number: {value!r}", file=path, row=row, field=field)
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"not a number: {value!r}", file=path, row=row, field=field) from None
    if not math.isfinite(number):
        raise InputError(f"not a finite number: {value!r}", file=path, row=row, field=field)
    return number


def _validate(records: list[tuple[int, dict[str, Any]]], path: Path) -> pd.DataFrame:
    columns: list[str] = []
    for _, record in records:
        for name in record:
            if name not in columns:
                columns.append(str(name))
    rows: list[dict[str, Any]] = []
    first_row_of: dict[str, int] = {}
    for row, record in records:
        out: dict[str, Any] = {}
        for name in columns:
            value = record.get(name)
            if name in REQUIRED_COLUMNS:
                out[name] = _text(value, path, row, name, required=True)
            elif name == "group":
                out[name] = _text(value, path, row, name, required=False)
            elif name in NORM_COLUMNS or name.startswith("feat_"):
                out[name] = _number(value, path, row, name)
            else:
                out[name] = "" if value is None else _text(value, path, row, name, required=False)
        _check_norms(out, path, row)
        item_id = out["item_id"] = out["item_id"].strip()
        if item_id in first_row_of:
            raise InputError(
                f"duplicate item_id {item_id!r} (first at row {first_row_of[item_id]}; ids are "
                "compared without leading and trailing spaces)",
                file=path,
                row=row,
                field="item_id",
            )
        first_row_of[item_id] = row
        rows.append(out)
    frame = pd.DataFrame(rows, columns=columns)
    return _normalise(frame)


def _check_norms(out: dict[str, Any], path: Path, row: int) -> None:
    rt = out.get("human_rt_ms", math.nan)
    if not math.isnan(rt) and rt <= 0:
        raise InputError(
            f"reaction time must be > 0 ms, got {rt:g}", file=path, row=row, field="human_rt_ms"
        )
    acc = out.get("human_acc", math.nan)
    if not math.isnan(acc) and not 0.0 <= acc <= 1.0:
        raise InputError(
            f"accuracy must lie in [0, 1], got {acc:g}", file=path, row=row, field="human_acc"
        )
    n = out.get("n_humans", math.nan)
    if not math.isnan(n) and (n < 0 or not float(n).is_integer()):
        raise InputError(
            f"must be an integer >= 0, got {n:g}", file=path, row=row, field="n_humans"
        )


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the optional norm columns (NaN), fill `group`, and fix dtypes and column order."""
    frame = frame.copy()
    for name in ("human_rt_ms", "human_acc"):
        frame[name] = frame[name].astype(float) if name in frame else math.nan
    frame["n_humans"] = (
        frame["n_humans"].astype(float).astype("Int64") if "n_humans" in frame else pd.NA
    )
    frame["n_humans"] = frame["n_humans"].astype("Int64")
    if "group" not in frame:
        frame["group"] = frame["task"]
    frame["group"] = frame["group"].where(
        frame["group"].astype(str).str.strip() != "", frame["task"]
    )
    for name in frame.columns:
        if name.startswith("feat_"):
            frame[name] = frame[name].astype(float)
        elif name in TEXT_COLUMNS or name not in NORM_COLUMNS:
            frame[name] = frame[name].astype(object).astype(str)
    return frame[ordered_columns(frame.columns)].reset_index(drop=True)


def ordered_columns(columns: Any) -> list[str]:
    """Required, norms, group, other text columns, then `feat_*` (sorted)."""
    columns = list(columns)
    head = [c for c in (*REQUIRED_COLUMNS, *NORM_COLUMNS, "group") if c in columns]
    feats = sorted(c for c in columns if c.startswith("feat_"))
    rest = [c for c in columns if c not in head and c not in feats]
    return head + rest + feats


def validate_items(frame: pd.DataFrame, *, source: str = "<items>") -> pd.DataFrame:
    """Validate an in-memory table with the same rules as `read_items` (rows numbered from 1)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError("missing required column", file=source, row=0, field=missing[0])
    if frame.empty:
        raise InputError("empty table: no items", file=source)
    records = [
        (i, {k: (None if _is_missing(v) else v) for k, v in record.items()})
        for i, record in enumerate(frame.to_dict(orient="records"), start=1)
    ]
    return _validate(records, Path(source))


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def write_items(frame: pd.DataFrame, path: str | Path) -> Path:
    """Validate and write an item table atomically (CSV, or JSONL for a `.jsonl` path)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(
            f"unknown item table suffix {path.suffix!r}: use .csv or .jsonl", file=path
        )
    table = validate_items(frame, source=str(path))
    with atomic_file(path) as tmp:
        if path.suffix.lower() == ".csv":
            table.to_csv(tmp, index=False, encoding="utf-8")
        else:
            with tmp.open("w", encoding="utf-8") as handle:
                for record in table.to_dict(orient="records"):
                    clean = {k: (None if _is_missing(v) else v) for k, v in record.items()}
                    handle.write(json.dumps(clean, ensure_ascii=False, default=int) + "\n")
    return path


def steps_of(row: Any) -> list[str]:
    """The derivation steps stored in a built-in or generated row's `steps` column (JSON list)."""
    return list(json.loads(row["steps"]))
