"""ConceptARC built-in task: items, norms and answers recomputed independently from the shipped
JSON task files and the human-performance CSV, exclusions counted, export round trip and listing."""

from __future__ import annotations

import json
import re
from importlib import resources

import pandas as pd
import pytest

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.families import FAMILIES, words_of
from mimicry.data.families import conceptarc as carc
from mimicry.data.generators import families
from mimicry.data.items import read_items
from mimicry.data.tasks import list_tasks, load_task, task_exclusions
from mimicry.experiments.cli import run

FOLDER = resources.files("mimicry.data.builtin.conceptarc")


@pytest.fixture(scope="module")
def raw():
    """The shipped files read with plain json/pandas: task files by name, non-empty CSV rows."""
    tasks = {
        entry.name: json.loads(entry.read_text(encoding="utf-8"))
        for entry in FOLDER.iterdir()
        if entry.name.endswith(".json")
    }
    with FOLDER.joinpath(carc.HUMAN_FILE).open("r", encoding="utf-8") as handle:
        human = pd.read_csv(handle).dropna(how="all")
    human["Test Input Index"] = human["Test Input Index"].astype(int)
    human["item_id"] = [
        f"carc-{name[: -len('.json')]}-{index}"
        for name, index in zip(human["Task File"], human["Test Input Index"], strict=True)
    ]
    return tasks, human


def grid_of(text: str) -> list[list[int]]:
    return [[int(cell) for cell in row.split()] for row in text.split(" / ")]


def test_shipped_files_licence_and_counts(raw):
    tasks, human = raw
    assert "MIT" in FOLDER.joinpath("LICENSE").read_text(encoding="utf-8")
    assert "b22ef526b4656679816b7811e78f55cc24d736d7" in FOLDER.joinpath("SOURCE.txt").read_text()
    assert (
        "ConceptARC"
        in resources.files("mimicry.data.builtin").joinpath("AGGREGATION.md").read_text()
    )
    minimal = [name for name in tasks if name.endswith("Minimal.json")]
    assert len(tasks) == 176 and len(minimal) == 16
    matched = [
        row.item_id
        for row in human.itertuples()
        if row[1] in tasks and row[2] < len(tasks[row[1]]["test"])
    ]
    items = load_task("conceptarc")
    assert len(items) == len(matched) == 528
    assert list(items["item_id"]) == matched
    assert items["item_id"].is_unique
    # Every test input of every shipped file has a norm row and vice versa: nothing excluded.
    assert sum(len(t["test"]) for t in tasks.values()) == len(human) == 528
    assert task_exclusions("conceptarc").rows() == []
    listed = list_tasks().set_index("name").loc["conceptarc"]
    assert (listed["family"], listed["n_items"], listed["norm"]) == ("conceptarc", 528, "acc")


def test_norms_answers_groups_and_features_match_the_files(raw):
    tasks, human = raw
    items = load_task("conceptarc").set_index("item_id")
    norms = human.set_index("item_id")
    assert items["human_acc"].tolist() == norms.loc[items.index, "Accuracy"].tolist()
    assert (
        items["n_humans"].tolist() == norms.loc[items.index, "TotalAttempts"].astype(int).tolist()
    )
    assert items["human_rt_ms"].isna().all()
    for item_id, row in items.iterrows():
        name, index = norms.loc[item_id, "Task File"], norms.loc[item_id, "Test Input Index"]
        task = tasks[name]
        test = task["test"][index]
        assert grid_of(row["answer"]) == test["output"]
        concept = re.sub(r"(Minimal|\d+)\.json$", "", name)
        assert row["group"] == f"conceptarc:{concept}"
        assert row["feat_minimal"] == float(name.endswith("Minimal.json"))
        assert row["feat_n_demos"] == len(task["train"])
        assert row["feat_grid_cells"] == sum(map(len, test["input"]))
        assert row["feat_output_cells"] == sum(map(len, test["output"]))
        shown = [test["input"]] + [g for pair in task["train"] for g in pair.values()]
        assert row["feat_n_colors"] == len({c for g in shown for r in g for c in r})
        lines = row["prompt"].splitlines()
        assert grid_of(lines[-2].removeprefix("test input : ")) == test["input"]
        first_demo = task["train"][0]
        assert grid_of(lines[1].removeprefix("example 1 input : ")) == first_demo["input"]
        assert grid_of(lines[2].removeprefix("example 1 output : ")) == first_demo["output"]
        assert len(lines) == 2 * len(task["train"]) + 3
        assert row["feat_digits"] == sum(ch.isdigit() for ch in row["prompt"])
        assert row["prompt"].isascii() and "\n" not in row["answer"]
        words = set(words_of(row["prompt"])) | set(words_of(row["answer"]))
        assert words <= carc.vocabulary(), words - carc.vocabulary()
    assert items.groupby("group").size().eq(33).all() and items["group"].nunique() == 16
    assert items["feat_minimal"].sum() == 48


def test_unmatched_rows_and_inputs_are_counted_not_dropped(raw):
    tasks, human = raw
    columns = [c for c in human.columns if c != "item_id"]
    changed = pd.concat(
        [
            human[columns].iloc[1:],  # AboveBelowMinimal test input 0 loses its norm row
            pd.DataFrame([["Nowhere3.json", 0, 5, 1, 6, 5 / 6]], columns=columns),
        ],
        ignore_index=True,
    )
    ledger = Exclusions()
    rows = carc.build_rows(changed, tasks, ledger)
    assert len(rows) == 527
    counted = {(r["reason"], r["example"]): r["n"] for r in ledger.rows()}
    assert counted == {
        ("item_norm_without_task", "carc-Nowhere3-0"): 1,
        ("item_without_human_norm", "carc-AboveBelowMinimal-0"): 1,
    }
    duplicated = pd.concat([human[columns], human[columns].iloc[[4]]], ignore_index=True)
    with pytest.raises(InputError, match="duplicate row") as error:
        carc.build_rows(duplicated, tasks, Exclusions())
    assert error.value.row == 529


def test_not_a_generated_family():
    assert "conceptarc" not in FAMILIES
    assert "conceptarc" not in families() and families() == list(FAMILIES)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_export_round_trip_and_listing(tmp_path, capsys, monkeypatch, suffix):
    out = tmp_path / f"carc{suffix}"
    assert run(["data", "export", "conceptarc", "--out", str(out)]) == 0
    assert "wrote 528 items" in capsys.readouterr().out
    back = read_items(out)
    expected = load_task("conceptarc")
    pd.testing.assert_frame_equal(back[expected.columns], expected)
    monkeypatch.setenv("COLUMNS", "200")
    assert run(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "conceptarc" in listing and "528" in listing
