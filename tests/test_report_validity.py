"""The validity gate: Wilson intervals and chance levels against references, and on real
generations a model that does its task (the organism teacher) is interpreted while a random-init
student is not, marked in every later table, and left out of every finding."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mimicry.distill.organism import WEIGHTS_DIR
from mimicry.experiments.report.validity import chance_levels, judge, validity_table
from tests.roster import write_roster

ORGANISM = Path(os.environ.get("MIMICRY_ORGANISM_DIR", WEIGHTS_DIR))


def test_chance_is_the_majority_answer_rate_per_task():
    items = pd.DataFrame(
        {
            "task": ["a"] * 4 + ["b"] * 3,
            "answer": ["Yes", "yes.", "no", "yes", "north", "south", "east"],
        }
    )
    chance = chance_levels(items)
    assert chance["a"] == 0.75 and abs(chance["b"] - 1 / 3) < 1e-12


def test_the_rule_needs_accuracy_above_chance_and_parsing():
    base = {"model": "m", "n": 40, "chance": 0.5, "accuracy": 0.9, "accuracy_ci_high": 0.97}
    assert judge({**base, "parse_rate": 1.0, "accuracy_ci_low": 0.77}).interpretable
    assert not judge({**base, "parse_rate": 0.8, "accuracy_ci_low": 0.77}).interpretable
    below = judge({**base, "parse_rate": 1.0, "accuracy_ci_low": 0.45})
    assert not below.interpretable and "chance" in below.reason


@pytest.fixture(scope="module")
def gated_run(tmp_path_factory):
    """Real generations: the organism teacher and a random-init copy of the base as a student."""
    import torch

    from mimicry.data.tasks import load_task
    from mimicry.distill.generate import generate
    from mimicry.experiments.behaviour import score
    from mimicry.experiments.pipeline.models import make_random_init
    from mimicry.experiments.report import build_report

    if not (ORGANISM / "teacher" / "model.safetensors").is_file():
        pytest.skip(f"no organism weights in {ORGANISM}")
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("gate") / "run"
    run.mkdir()
    items = pd.concat([load_task("relational_3ps"), load_task("cardinal_directions").head(16)])
    items.to_csv(run / "items.csv", index=False)
    (run / "traces").mkdir()
    random_student = make_random_init(
        ORGANISM / "base", run / "models" / "random", seed=0, trust_remote_code=False
    )
    for name, folder in (("teacher", ORGANISM / "teacher"), ("student_random", random_student)):
        generate(
            folder,
            run / "items.csv",
            run / "traces" / f"{name}.jsonl",
            name=name,
            max_new_tokens=128,
            batch_size=32,
        )
    # the good student: the teacher's own traces under a student's name (a model that does its task)
    lines = (run / "traces" / "teacher.jsonl").read_text().splitlines()
    (run / "traces" / "student_original.jsonl").write_text(
        "\n".join(json.dumps({**json.loads(x), "model": "student_original"}) for x in lines) + "\n"
    )
    score(
        run / "items.csv",
        sorted((run / "traces").glob("*.jsonl")),
        run / "behaviour",
        n_boot=200,
        n_perm=200,
    )
    (run / "config.yaml").write_text("name: gate\nseed: 0\nreport: {n_boot: 200, n_perm: 200}\n")
    write_roster(run, ["teacher", "base", "student_original", "student_random"])
    shutil.rmtree(run / "models")
    build_report(run)
    return run


def test_real_generations_get_the_right_verdicts(gated_run):
    from mimicry.data.traces import read_traces

    traces, _ = read_traces(sorted((gated_run / "traces").glob("*.jsonl")))
    items = pd.read_csv(gated_run / "items.csv", dtype={"item_id": str})
    table = validity_table(traces, items).set_index(["model", "task"])
    assert bool(table.loc[("teacher", "all"), "interpretable"])
    assert bool(table.loc[("student_original", "all"), "interpretable"])
    bad = table.loc[("student_random", "all")]
    assert not bool(bad["interpretable"]) and bad["reason"]


def test_findings_leave_the_bad_student_out_and_later_tables_mark_it(gated_run):
    markdown = (gated_run / "report" / "report.md").read_text()
    sections = markdown.split("\n## ")
    titles = [s.splitlines()[0] for s in sections[1:]]
    assert titles[0].startswith("1. Validity gate") and titles[1].startswith("2. Findings")
    findings = sections[2]
    first, rest = findings.split("\n\n", 2)[1], findings.split("\n\n", 2)[2]
    assert first.startswith("Not interpreted") and "student_random" in first
    assert "student_random" not in rest
    assert "teacher: r̄ =" in rest and "student_original: r̄ =" in rest
    later = "\n## ".join(sections[3:])
    assert "student_random ✗" in later
    assert "| student_random |" not in later  # never unmarked in a later table
