"""Trace files: round trip, counted empty answers, token counting, and one error per bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimicry.data.errors import InputError
from mimicry.data.traces import read_traces, write_traces


def _row(item="i1", sample=0, **over):
    row = {
        "item_id": item,
        "model": "m",
        "sample": sample,
        "reasoning": "A is left of B . so A",
        "answer": "yes",
        "correct": True,
        "n_reasoning_tokens": 7,
    }
    row.update(over)
    return row


def _write_lines(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_round_trip_and_empty_answers_counted(tmp_path):
    rows = [_row("i1", 0), _row("i1", 1, answer="  ", correct=False), _row("i2", 0, model="n")]
    path = write_traces(rows, tmp_path / "t.jsonl")
    frame, ledger = read_traces(path, item_ids=["i1", "i2"])
    assert list(frame["item_id"]) == ["i1", "i1", "i2"]
    assert list(frame["parsed"]) == [True, False, True]
    assert list(frame["line"]) == [1, 2, 3]
    assert frame["n_reasoning_tokens"].tolist() == [7, 7, 7]
    assert ledger.rows() == [
        {
            "stage": "traces",
            "model": "m",
            "task": "",
            "reason": "empty_answer",
            "n": 1,
            "example": f"{path}:2",
        }
    ]
    # Writing what was read gives the same file content (bookkeeping columns are not written).
    again = write_traces(frame, tmp_path / "again.jsonl")
    assert again.read_text() == path.read_text()


def test_one_model_may_span_files_but_samples_are_unique(tmp_path):
    a = _write_lines(tmp_path / "a.jsonl", [_row("i1", 0)])
    b = _write_lines(tmp_path / "b.jsonl", [_row("i1", 1)])
    frame, _ = read_traces([a, b])
    assert len(frame) == 2
    c = _write_lines(tmp_path / "c.jsonl", [_row("i1", 0)])
    with pytest.raises(InputError) as error:
        read_traces([a, c])
    assert error.value.field == "sample" and error.value.row == 1 and "c.jsonl" in str(error.value)


BAD_LINES = {
    "malformed_json": ('{"item_id": "i1", ', None),
    "not_an_object": ("[1, 2]", None),
    "missing_field": (json.dumps({k: v for k, v in _row().items() if k != "answer"}), "answer"),
    "correct_not_bool": (json.dumps(_row(correct="yes")), "correct"),
    "sample_not_int": (json.dumps(_row(sample=1.5)), "sample"),
    "negative_tokens": (json.dumps(_row(n_reasoning_tokens=-3)), "n_reasoning_tokens"),
    "tokens_not_number": (json.dumps(_row(n_reasoning_tokens="12")), "n_reasoning_tokens"),
    "missing_tokens": (
        json.dumps({k: v for k, v in _row().items() if k != "n_reasoning_tokens"}),
        "n_reasoning_tokens",
    ),
    "unknown_item": (json.dumps(_row(item="nope")), "item_id"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_names_file_line_and_field(tmp_path, case):
    line, field = BAD_LINES[case]
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(_row("i1", 0)) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_traces(path, item_ids=["i1"])
    assert error.value.file == str(path)
    assert error.value.row == 3
    assert error.value.field == field
    assert "\n" not in str(error.value)


def test_empty_and_non_utf8_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    with pytest.raises(InputError, match="empty trace file"):
        read_traces(empty)
    latin = tmp_path / "latin.jsonl"
    # A latin-1 byte (0xe9) on line 2; json.dumps would escape it, so write it raw.
    latin.write_bytes((json.dumps(_row()) + "\n").encode() + b'{"reasoning": "caf\xe9"}\n')
    with pytest.raises(InputError) as error:
        read_traces(latin)
    assert error.value.row == 2 and "UTF-8" in str(error.value)
    with pytest.raises(InputError, match="not found"):
        read_traces(tmp_path / "missing.jsonl")


def test_tokenizer_counts_every_line(tmp_path, tiny_model_factory):
    from mimicry.experiments.behaviour.scoring import tokenizer_counter
    from mimicry.probes.loading import load_tokenizer

    model_dir = tiny_model_factory("gpt2")
    rows = [
        _row("i1", 0, reasoning="A is left of B . B is left of C"),
        _row("i2", 0, reasoning="so therefore", n_reasoning_tokens=999),
        _row("i3", 0, reasoning=""),
    ]
    del rows[0]["n_reasoning_tokens"]
    path = _write_lines(tmp_path / "t.jsonl", rows)
    with pytest.raises(InputError):
        read_traces(path)
    frame, _ = read_traces(path, count_tokens=tokenizer_counter(model_dir))
    tokenizer = load_tokenizer(model_dir)
    expected = [len(tokenizer(r["reasoning"], add_special_tokens=False)["input_ids"]) for r in rows]
    assert frame["n_reasoning_tokens"].tolist() == expected == [11, 2, 0]
