"""Trace files: one JSONL line per item x sample, from any model or API.

A trace line holds `item_id`, `model`, `sample` (int), `reasoning` (str), `answer` (str),
`correct` (bool) and `n_reasoning_tokens` (int, 0 to 2**53; may be absent when a token counter is
given). Structural problems (unreadable file, bad JSON, missing or mistyped fields, negative
token counts, items the item table does not know, duplicate samples) are the user's to fix and
raise `InputError` naming file, line and field. A sample whose answer is empty (the generation
never produced a parsable answer) is expected in real runs: it is kept, flagged `parsed=False`,
and counted in the exclusions ledger, never dropped silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import atomic_file
from mimicry.data.textfile import parse_json_object, read_utf8

STAGE = "traces"
REQUIRED_FIELDS = ("item_id", "model", "sample", "reasoning", "answer", "correct")
TOKEN_FIELD = "n_reasoning_tokens"
TRACE_FIELDS = (*REQUIRED_FIELDS, TOKEN_FIELD)
# Columns of the frame `read_traces` returns.
TRACE_COLUMNS = (*TRACE_FIELDS, "parsed", "file", "line")

# Bookkeeping columns added by `read_traces`, not written back by `write_traces`.
_READ_ONLY_COLUMNS = ("parsed", "file", "line")
# Largest sample index and token count accepted: integers up to 2**53 stay exact as float64 (the
# statistics' dtype) and fit int64; 1e30 is a corrupt count, not a long trace.
MAX_COUNT = 2**53
# A batched token counter: texts -> token counts (e.g. a tokenizer without special tokens).
TokenCounter = Callable[[Sequence[str]], Sequence[int]]


def read_traces(
    paths: str | Path | Iterable[str | Path],
    *,
    item_ids: Collection[str] | None = None,
    count_tokens: TokenCounter | None = None,
    exclusions: Exclusions | None = None,
) -> tuple[pd.DataFrame, Exclusions]:
    """Read and validate one or more trace files.

    Args:
        paths: one path or several; the same model may span files.
        item_ids: ids of the item table; a trace naming any other id is an input error.
        count_tokens: when given, `n_reasoning_tokens` is (re)counted from `reasoning` for every
            line, so all counts come from one tokenizer; when absent the field is required.
        exclusions: ledger to add to (a new one is made otherwise).

    Returns:
        (frame with TRACE_COLUMNS, one row per line; ledger with one `empty_answer` count per
        model for samples without an answer).
    """
    path_list = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not path_list:
        raise InputError("no trace files given", field="traces")
    records = (
        record
        for path in path_list
        for record in _read_file(path, need_tokens=count_tokens is None)
    )
    return _validated_frame(records, item_ids, count_tokens, exclusions)


def validate_traces(
    frame: pd.DataFrame,
    *,
    item_ids: Collection[str] | None = None,
    count_tokens: TokenCounter | None = None,
    exclusions: Exclusions | None = None,
    source: str = "<traces>",
) -> tuple[pd.DataFrame, Exclusions]:
    """`read_traces` for a table in memory: the same checks per row (rows numbered from 1),
    the same frame and the same ledger."""
    path = Path(source)
    need_tokens = count_tokens is None
    records = (
        _parse_line(
            json.dumps({k: _plain(v) for k, v in row.items() if k not in _READ_ONLY_COLUMNS}),
            path,
            number,
            need_tokens=need_tokens,
        )
        for number, row in enumerate(frame.to_dict(orient="records"), start=1)
    )
    return _validated_frame(records, item_ids, count_tokens, exclusions)


def _validated_frame(records, item_ids, count_tokens, exclusions):
    """Unknown ids and duplicate samples are input errors; counts, dtypes and the ledger."""
    known = None if item_ids is None else {str(i) for i in item_ids}
    ledger = Exclusions() if exclusions is None else exclusions
    kept: list[dict] = []
    seen: dict[tuple[str, str, int], tuple[str, int]] = {}
    for record in records:
        path = record["file"]
        if known is not None and record["item_id"] not in known:
            raise InputError(
                f"unknown item id {record['item_id']!r} (not in the item table)",
                file=path,
                row=record["line"],
                field="item_id",
            )
        key = (record["model"], record["item_id"], record["sample"])
        if key in seen:
            first_file, first_line = seen[key]
            raise InputError(
                f"duplicate sample {record['sample']} of item {record['item_id']!r} for model "
                f"{record['model']!r} (first at {first_file} line {first_line})",
                file=path,
                row=record["line"],
                field="sample",
            )
        seen[key] = (str(path), record["line"])
        kept.append(record)
    frame = pd.DataFrame.from_records(kept, columns=list(TRACE_COLUMNS))
    if count_tokens is not None:
        frame[TOKEN_FIELD] = _count(frame["reasoning"].tolist(), count_tokens)
    frame = frame.astype(
        {
            "item_id": str,
            "model": str,
            "sample": "int64",
            "correct": bool,
            TOKEN_FIELD: "int64",
            "parsed": bool,
            "line": "int64",
        }
    )
    for model, group in frame[~frame["parsed"]].groupby("model", sort=True):
        ledger.add(
            STAGE,
            "empty_answer",
            model=str(model),
            n=len(group),
            example=f"{group['file'].iloc[0]}:{group['line'].iloc[0]}",
        )
    return frame, ledger


def _count(texts: list[str], count_tokens: TokenCounter) -> list[int]:
    counts = list(count_tokens(texts)) if texts else []
    if len(counts) != len(texts):
        raise ValueError(f"token counter returned {len(counts)} counts for {len(texts)} texts")
    return [int(c) for c in counts]


def _read_file(path: Path, *, need_tokens: bool) -> Iterable[dict]:
    if not path.is_file():
        raise InputError("trace file not found", file=path)
    text = read_utf8(path)
    n_records = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        yield _parse_line(line, path, number, need_tokens=need_tokens)
        n_records += 1
    if n_records == 0:
        raise InputError("empty trace file (no JSON lines)", file=path)


def _parse_line(line: str, path: Path, number: int, *, need_tokens: bool) -> dict:
    obj = parse_json_object(line, path, number)
    fields = REQUIRED_FIELDS + ((TOKEN_FIELD,) if need_tokens else ())
    for name in fields:
        if name not in obj or obj[name] is None:
            hint = " (or pass a tokenizer to count them)" if name == TOKEN_FIELD else ""
            raise InputError(f"missing field{hint}", file=path, row=number, field=name)

    def fail(name: str, expected: str) -> InputError:
        return InputError(
            f"expected {expected}, got {obj[name]!r}", file=path, row=number, field=name
        )

    item_id = obj["item_id"]
    if isinstance(item_id, bool) or not isinstance(item_id, str | int):
        raise fail("item_id", "a string")
    for name in ("model", "reasoning", "answer"):
        if not isinstance(obj[name], str):
            raise fail(name, "a string")
    if not obj["model"].strip():
        raise fail("model", "a non-empty model name")
    sample = _as_int(obj["sample"])
    if sample is None or abs(sample) > MAX_COUNT:
        raise fail("sample", f"an integer from -{MAX_COUNT} to {MAX_COUNT}")
    if not isinstance(obj["correct"], bool):
        raise fail("correct", "true or false")
    tokens = 0
    if need_tokens:
        tokens = _as_int(obj[TOKEN_FIELD])
        if tokens is None or not 0 <= tokens <= MAX_COUNT:
            raise fail(TOKEN_FIELD, f"an integer from 0 to {MAX_COUNT}")
    return {
        "item_id": str(item_id).strip(),  # as the item table reads ids
        "model": obj["model"],
        "sample": sample,
        "reasoning": obj["reasoning"],
        "answer": obj["answer"],
        "correct": obj["correct"],
        TOKEN_FIELD: tokens,
        "parsed": bool(obj["answer"].strip()),
        "file": str(path),
        "line": number,
    }


def _as_int(value) -> int | None:
    """Integers, and floats with an integral value (12.0), are integers; bools and others are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def write_traces(rows: Iterable[dict] | pd.DataFrame, path: str | Path) -> Path:
    """Write trace rows as JSONL atomically (a killed writer leaves no half file).

    Each row needs the trace fields; extra keys are kept. Rows are validated like on reading,
    so a file this writes always reads back.
    """
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict(orient="records")
    target = Path(path)
    with atomic_file(target) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as handle:
        for number, row in enumerate(rows, start=1):
            record = {k: _plain(v) for k, v in dict(row).items() if k not in _READ_ONLY_COLUMNS}
            _parse_line(json.dumps(record), target, number, need_tokens=True)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return target


def _plain(value):
    """numpy/pandas scalars -> Python scalars, so json can write them."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value
