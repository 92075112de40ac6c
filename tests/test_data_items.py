"""Item tables: the documented format round-trips, and every class of bad input is one line
naming file, row and field, exit code 2 and no output file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from mimicry.data.errors import InputError
from mimicry.data.items import read_items, write_items
from mimicry.experiments.cli import run

HEADER = "item_id,task,prompt,answer,human_rt_ms,human_acc,n_humans,feat_len"
GOOD_ROW = "a1,t,Is A left of B?,yes,1200,0.8,30,5"


def _csv(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "items.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# (case id, file maker, expected row, expected field, words expected in the message)
BAD_INPUTS = {
    "missing_column": (
        lambda p: _csv(p, "a1,t,yes", header="item_id,task,answer"),
        0,
        "prompt",
        "missing",
    ),
    "empty_file": (lambda p: _write(p / "items.csv", b""), None, None, "empty"),
    "header_only": (
        lambda p: _write(p / "items.csv", HEADER.encode() + b"\n"),
        None,
        None,
        "empty",
    ),
    "duplicate_id": (lambda p: _csv(p, GOOD_ROW, GOOD_ROW), 2, "item_id", "duplicate"),
    "empty_prompt": (lambda p: _csv(p, GOOD_ROW, "a2,t,,yes,1,0.5,3,1"), 2, "prompt", "empty"),
    "empty_answer": (lambda p: _csv(p, "a2,t,Q?,  ,1,0.5,3,1"), 1, "answer", "empty"),
    "rt_not_a_number": (lambda p: _csv(p, "a1,t,Q?,yes,slow,0.5,3,1"), 1, "human_rt_ms", "number"),
    "rt_negative": (lambda p: _csv(p, GOOD_ROW, "a2,t,Q?,yes,-5,0.5,3,1"), 2, "human_rt_ms", "> 0"),
    "rt_zero": (lambda p: _csv(p, "a2,t,Q?,yes,0,0.5,3,1"), 1, "human_rt_ms", "> 0"),
    "rt_infinite": (lambda p: _csv(p, "a2,t,Q?,yes,inf,0.5,3,1"), 1, "human_rt_ms", "finite"),
    "acc_above_one": (lambda p: _csv(p, "a2,t,Q?,yes,10,1.5,3,1"), 1, "human_acc", "[0, 1]"),
    "n_humans_negative": (lambda p: _csv(p, "a2,t,Q?,yes,10,0.5,-1,1"), 1, "n_humans", "integer"),
    "n_humans_fraction": (lambda p: _csv(p, "a2,t,Q?,yes,10,0.5,2.5,1"), 1, "n_humans", "integer"),
    "feature_not_numeric": (
        lambda p: _csv(p, "a2,t,Q?,yes,10,0.5,2,long"),
        1,
        "feat_len",
        "number",
    ),
    "wrong_field_count": (lambda p: _csv(p, GOOD_ROW, "a2,t,Q?"), 2, None, "fields"),
    "not_utf8": (
        lambda p: _write(
            p / "items.csv", f"{HEADER}\n{GOOD_ROW}\na2,t,caf\xe9?,yes,1,1,1,1\n".encode("latin-1")
        ),
        2,
        None,
        "UTF-8",
    ),
    "malformed_json_line": (
        lambda p: _write(
            p / "items.jsonl",
            b'{"item_id": "a", "task": "t", "prompt": "Q?", "answer": "yes"}\n{"item_id": "b",\n',
        ),
        2,
        None,
        "JSON",
    ),
    "json_line_not_object": (lambda p: _write(p / "items.jsonl", b"[1, 2]\n"), 1, None, "object"),
    "json_missing_field": (
        lambda p: _write(p / "items.jsonl", b'{"item_id": "a", "task": "t", "prompt": "Q?"}\n'),
        1,
        "answer",
        "missing",
    ),
    "json_bool_rt": (
        lambda p: _write(
            p / "items.jsonl",
            b'{"item_id": "a", "task": "t", "prompt": "Q?", "answer": "y", "human_rt_ms": true}\n',
        ),
        1,
        "human_rt_ms",
        "number",
    ),
    "unknown_suffix": (lambda p: _write(p / "items.xlsx", b"x"), None, None, "suffix"),
}


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_no_output(case: str, tmp_path: Path, capsys):
    make, row, field, words = BAD_INPUTS[case]
    path = make(tmp_path)
    with pytest.raises(InputError) as raised:
        read_items(path)
    error = raised.value
    assert error.file == str(path)
    assert error.row == row
    assert error.field == field
    assert words.lower() in error.message.lower()

    out = tmp_path / "out" / "merged.csv"
    for argv in (["data", "validate", str(path)], ["data", "export", str(path), "--out", str(out)]):
        assert run(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert err.startswith(f"error: {path}")
        if row is not None:
            assert f"row {row}" in err
        if field is not None:
            assert f"field '{field}'" in err
        assert not out.exists()
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_read_items_types_defaults_and_roundtrip(tmp_path: Path):
    path = _csv(
        tmp_path,
        "007,t,Q one?,yes,1200,0.8,30,5",
        "8,t,Q two?,no,,,,",
        header=HEADER,
    )
    items = read_items(path)
    assert list(items["item_id"]) == ["007", "8"]  # ids stay strings, zeros kept
    assert list(items["group"]) == ["t", "t"]  # group defaults to task
    assert math.isnan(items.loc[1, "human_rt_ms"]) and math.isnan(items.loc[1, "feat_len"])
    assert items["n_humans"].dtype == "Int64" and pd.isna(items.loc[1, "n_humans"])
    assert items.loc[0, "human_rt_ms"] == 1200.0

    for suffix in (".csv", ".jsonl"):
        out = write_items(items, tmp_path / f"copy{suffix}")
        again = read_items(out)
        pd.testing.assert_frame_equal(again, items)


def test_jsonl_with_numbers_and_nulls(tmp_path: Path):
    lines = [
        {"item_id": 1, "task": "t", "prompt": "Q?", "answer": "yes", "human_acc": None},
        {
            "item_id": "2",
            "task": "t",
            "prompt": "R?",
            "answer": "no",
            "human_acc": 0.25,
            "group": "g",
        },
    ]
    path = _write(tmp_path / "x.jsonl", "\n".join(json.dumps(x) for x in lines).encode() + b"\n\n")
    items = read_items(path)
    assert list(items["item_id"]) == ["1", "2"]
    assert list(items["group"]) == ["t", "g"]
    assert math.isnan(items.loc[0, "human_acc"]) and items.loc[1, "human_acc"] == 0.25


def test_validate_command_reports_tasks_and_norms(tmp_path: Path, capsys):
    path = _csv(tmp_path, GOOD_ROW, "a2,t,Q?,no,,0.5,3,1", "b1,u,R?,yes,,,,")
    assert run(["data", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 items" in out
    t_line = next(line for line in out.splitlines() if "│ t " in line)
    assert [c.strip() for c in t_line.split("│")[1:-1]][:5] == ["t", "2", "1", "2", "2"]
