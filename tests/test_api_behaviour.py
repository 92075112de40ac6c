"""`alignment(traces, items) -> AlignmentTables`: the behaviour stage's tables from DataFrames.

The stage (`score`, behind `mimicry behaviour` and the pipeline) must write exactly these tables,
and a bad traces table must fail as a bad trace file does: one error naming row and field.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from scipy import stats as sps

from mimicry.data.errors import InputError
from mimicry.experiments.behaviour import AlignmentTables, alignment, score
from tests.test_behaviour_score import _items, _traces

OPTIONS = dict(n_boot=200, n_perm=200, seed=3, figures=False)


def test_alignment_in_memory_equals_the_stage_files(tmp_path):
    items = _items(tmp_path)
    traces = pd.DataFrame(_traces(tmp_path, items))
    tables = alignment(traces, items, pairs=["student=base"], reference="teacher", **OPTIONS)
    assert isinstance(tables, AlignmentTables)
    assert repr(tables).startswith("AlignmentTables(alignment: ") and "teacher" in repr(tables)
    score(
        tmp_path / "items.csv",
        tmp_path / "traces.jsonl",
        tmp_path / "out",
        pairs=["student=base"],
        reference="teacher",
        **OPTIONS,
    )
    for name in ("alignment", "summary", "transfer", "inflation", "wrong_right"):
        written = pd.read_csv(tmp_path / "out" / f"{name}.csv")
        ours = getattr(tables, name)
        assert list(ours.columns) == list(written.columns), name
        assert len(ours) == len(written) > 0, name
        round_trip = pd.read_csv(io.StringIO(ours.to_csv(index=False)))
        pd.testing.assert_frame_equal(round_trip, written, obj=name)
    written = pd.read_csv(tmp_path / "out" / "exclusions.csv")
    assert pd.DataFrame(tables.exclusions.rows())["n"].sum() == written["n"].sum() > 0

    # An independent check of one cell: teacher's Pearson r on the RT task (cost = mean tokens
    # of the answered samples, items without RT left out).
    row = tables.alignment.set_index(["model", "task"]).loc[("teacher", "rel")]
    answered = traces[traces["answer"] != ""]
    cost = answered[answered["model"] == "teacher"].groupby("item_id")["n_reasoning_tokens"].mean()
    rt = pd.to_numeric(items.set_index("item_id")["human_rt_ms"], errors="coerce")
    rel = [i for i in items["item_id"] if i.startswith("rel") and rt[i] == rt[i] and i in cost]
    assert row["n"] == len(rel)
    assert row["pearson_r"] == pytest.approx(sps.pearsonr(cost[rel], rt[rel])[0])


def test_a_bad_traces_table_names_row_and_field(tmp_path):
    items = _items(tmp_path)
    traces = pd.DataFrame(_traces(tmp_path, items)).drop(columns=["correct"])
    with pytest.raises(InputError) as error:
        alignment(traces, items, **OPTIONS)
    assert error.value.row == 1 and error.value.field == "correct"
    unknown = pd.DataFrame(_traces(tmp_path, items))
    unknown.loc[4, "item_id"] = "nope"
    with pytest.raises(InputError, match="unknown item id 'nope'") as error:
        alignment(unknown, items, **OPTIONS)
    assert error.value.row == 5
