"""Built-in tasks: item counts, norms recomputed independently from the raw trials with pandas,
solver answers equal to each dataset's own notion of correct, and shipped package data."""

from __future__ import annotations

import json
import math
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from scipy.stats import median_abs_deviation

from mimicry.data.families import get_family
from mimicry.data.families import words_of as family_words
from mimicry.data.families.syllogistic import follows
from mimicry.data.tasks import list_tasks, load_task, task_exclusions

RAW = resources.files("mimicry.data.builtin").joinpath("ccobra")


def raw(name: str) -> pd.DataFrame:
    with RAW.joinpath(name).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle)


def reference_rt(rts: pd.Series) -> float:
    """Independent implementation of the documented RT rule (scipy's normal-scaled MAD)."""
    rts = rts[rts >= 200]
    logs = np.log(rts.to_numpy(float))
    mad = median_abs_deviation(logs, scale="normal")
    keep = np.abs(logs - np.median(logs)) <= 3 * mad
    return float(np.median(rts.to_numpy(float)[keep]))


def test_shipped_files_and_counts():
    for name in (
        "3ps.csv",
        "4ps.csv",
        "Ragni2018_carddir.csv",
        "Ragni2016.csv",
        "propositional_data.csv",
    ):
        assert RAW.joinpath(name).is_file()
    for name in ("LICENSE", "SOURCE.txt"):
        assert "MIT" in RAW.joinpath(name).read_text(encoding="utf-8")
    assert (
        "3 scaled MADs"
        in resources.files("mimicry.data.builtin").joinpath("AGGREGATION.md").read_text()
    )
    counts = dict(zip(list_tasks()["name"], list_tasks()["n_items"], strict=True))
    # 4ps: 48 in the file, 4 with a recorded premise that breaks the chain; carddir: 64 in the
    # file, 8 opposite-direction pairs with no correct answer. Both counted as exclusions.
    assert counts == {
        "relational_3ps": 16,
        "relational_4ps": 44,
        "cardinal_directions": 56,
        "syllogisms": 64,
        "propositional": 16,
        "conceptarc": 528,
    }
    reasons = {r["reason"]: r["n"] for r in task_exclusions("relational_4ps").rows()}
    assert reasons["item_premises_not_a_chain"] == 4
    reasons = {r["reason"]: r["n"] for r in task_exclusions("cardinal_directions").rows()}
    assert reasons["item_indeterminate"] == 8


@pytest.mark.parametrize(
    ("task", "file", "id_column", "label_column", "prefix"),
    [
        ("relational_3ps", "3ps.csv", "Task-ID", "korrekt", "rel3"),
        ("relational_4ps", "4ps.csv", "TaskID", "logicallycorrect", "rel4"),
    ],
)
def test_relational_answers_and_norms(task, file, id_column, label_column, prefix):
    items = load_task(task).set_index("item_id")
    trials = raw(file)
    labels = trials.groupby(id_column)[label_column].first()
    kept = [i for i in labels.index if f"{prefix}-{i:03d}" in items.index]
    for task_id in kept:
        assert items.loc[f"{prefix}-{task_id:03d}", "answer"] == (
            "yes" if labels[task_id] else "no"
        )
    excluded = sorted(set(labels.index) - set(kept))
    assert excluded == ([] if task == "relational_3ps" else [60, 108, 156, 204])
    trials["right"] = trials["response"].astype(bool) == trials[label_column].astype(bool)
    for task_id in kept[:3] + kept[-2:]:
        these = trials[trials[id_column] == task_id]
        row = items.loc[f"{prefix}-{task_id:03d}"]
        assert row["human_acc"] == pytest.approx(these["right"].mean())
        assert row["n_humans"] == these["id"].nunique()
        assert row["human_rt_ms"] == pytest.approx(reference_rt(these.loc[these["right"], "rt_ms"]))


def _direction(dx: float, dy: float) -> str:
    names = [
        "east",
        "north-east",
        "north",
        "north-west",
        "west",
        "south-west",
        "south",
        "south-east",
    ]
    return names[round(math.degrees(math.atan2(dy, dx)) / 45) % 8]


def test_cardinal_answers_are_modal_human_answers_and_norms():
    items = load_task("cardinal_directions").set_index("item_id")
    trials = raw("Ragni2018_carddir.csv")
    trials["choice"] = trials["response"].str.split(";").str[0]
    modal = trials.groupby("Task-ID")["choice"].agg(lambda s: s.value_counts().index[0])
    step = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}
    for task_id, answer in modal.items():
        relations = trials.loc[trials["Task-ID"] == task_id, "task"].iloc[0].split("/")
        # X rel Y: X lies at Y + rel, so the last object lies at the first minus both relations.
        dx = dy = 0
        for rel in relations:
            for part in rel.split(";")[0].split("-"):
                dx -= step[part][0]
                dy -= step[part][1]
        item_id = f"card-{task_id:03d}"
        if (dx, dy) == (0, 0):
            assert item_id not in items.index
            continue
        assert items.loc[item_id, "answer"] == _direction(dx, dy) == answer
    for task_id in (1, 2, 30):
        these = trials[trials["Task-ID"] == task_id]
        right = these["choice"] == items.loc[f"card-{task_id:03d}", "answer"]
        total = these["p1_rt"] + these["p2_rt"] + these["rt_ms"]
        row = items.loc[f"card-{task_id:03d}"]
        assert row["human_acc"] == pytest.approx(right.mean())
        assert row["human_rt_ms"] == pytest.approx(reference_rt(total[right]))
        assert row["n_humans"] == 49


def test_syllogisms_classical_answers_and_accuracy():
    items = load_task("syllogisms").set_index("item_id")
    # Classical results with existential import (premises in the order A-B, B-C for figure 1).
    expected = {
        "syl-AA1": "all {a} are {c}",  # Barbara
        "syl-AE1": "no {a} are {c}",  # Celarent (premises swapped)
        "syl-IA1": "some {a} are {c}",  # Darii
        "syl-IE1": "some {a} are not {c}",  # Ferio
        "syl-AI1": "nothing follows",  # undistributed middle
        "syl-AA4": "some {a} are {c}",  # Darapti-like, needs existential import
        "syl-OO1": "nothing follows",
        "syl-EE2": "nothing follows",
    }
    for item_id, template in expected.items():
        prompt = items.loc[item_id, "prompt"]
        a, c = prompt.split("about ")[1].rstrip("?").split(" and ")
        assert items.loc[item_id, "answer"] == template.format(a=a, c=c)
    # 27 of the 64 syllogisms have a valid conclusion under existential import.
    assert (items["answer"] != "nothing follows").sum() == 27
    assert (items["n_humans"] == 139).all()

    # Accuracy of AA1 recomputed with pandas string operations on the raw trials.
    trials = raw("Ragni2016.csv")
    parts = trials["task"].str.split("/", expand=True)
    p1, p2 = parts[0].str.split(";", expand=True), parts[1].str.split(";", expand=True)
    aa1 = trials[(p1[0] == "All") & (p2[0] == "All") & (p1[2] == p2[1])]
    a, c = p1.loc[aa1.index, 1], p2.loc[aa1.index, 2]
    right = [
        r in {f"All;{x};{z}", f"Some;{x};{z}", f"Some;{z};{x}"}
        for r, x, z in zip(aa1["response"], a, c, strict=True)
    ]
    assert len(aa1) == 139
    assert items.loc["syl-AA1", "human_acc"] == pytest.approx(np.mean(right))


def test_syllogism_solver_agrees_with_its_answer_and_import_matters():
    assert follows((("all", "b", "a"), ("all", "b", "c")), ("some", "a", "c"))
    assert not follows((("some", "a", "b"), ("some", "b", "c")), ("some", "a", "c"))


def test_propositional_answers_and_accuracy():
    items = load_task("propositional").set_index("item_id")
    expected = {
        "prop-A-if": "B",  # modus ponens
        "prop-notB-if": "not A",  # modus tollens
        "prop-B-if": "nothing",  # affirming the consequent
        "prop-notA-if": "nothing",  # denying the antecedent
        "prop-notA-iff": "not B",
        "prop-A-xor": "not B",
        "prop-notB-or": "A",
        "prop-A-or": "nothing",
    }
    for item_id, answer in expected.items():
        assert items.loc[item_id, "answer"] == answer
    trials = raw("propositional_data.csv")
    these = trials[trials["task"] == "Not;B/if;A;B"]
    row = items.loc["prop-notB-if"]
    assert row["human_acc"] == pytest.approx((these["response"] == "not;A").mean())
    assert row["n_humans"] == these["id"].nunique()
    assert math.isnan(row["human_rt_ms"])


@pytest.mark.parametrize(
    "task",
    ["relational_3ps", "relational_4ps", "cardinal_directions", "syllogisms", "propositional"],
)
def test_builtin_items_words_steps_and_features(task):
    items = load_task(task)
    family = get_family(items["family"].iloc[0])
    vocabulary = family.vocabulary()
    for row in items.itertuples():
        words = family_words(row.prompt) + family_words(row.answer)
        steps = json.loads(row.steps)
        words += [w for s in steps for w in family_words(s)]
        assert set(words) <= vocabulary, set(words) - vocabulary
        assert row.prompt.isascii() and row.feat_steps == len(steps)
        if family.name != "propositional":  # there the last step says "A is false" for "not A"
            assert row.answer in steps[-1]
    assert items["group"].str.startswith(family.name + ":").all()
    assert items["item_id"].is_unique
