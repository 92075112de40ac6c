"""Typed model records: who a model is comes from its record, never from parsing its name; two
roles that load the very same model are generated, captured and random-initialised once."""

from __future__ import annotations

import json
import os

import pytest

from mimicry.data.errors import InputError
from mimicry.data.models import ModelRecord, Roster, read_roster
from mimicry.experiments.config import RunConfig, load_config
from mimicry.experiments.pipeline.models import run_roster
from mimicry.experiments.pipeline.runner import run_pipeline


def test_records_round_trip_and_answer_questions_without_names():
    roster = Roster(
        [
            ModelRecord("T", "teacher"),
            ModelRecord("B", "base"),
            ModelRecord("S1", "student", "original"),
            ModelRecord("T-rand", "teacher", random_init=True, of="T"),
        ]
    )
    again = Roster.from_json(json.loads(json.dumps(roster.to_json())))
    assert [r for r in again] == [r for r in roster]
    assert again.conditions() == {"original": "S1"}
    assert again.baseline_of("T").name == "T-rand" and again.baseline_of("B") is None
    assert again.is_random_init("T-rand") and not again.is_random_init("T")
    assert again.role_names() == {"teacher": ["T"], "base": ["B"], "student": ["S1"]}
    assert again.label("S1") == "student (original)" and again.label("T-rand") == "random-init T"
    with pytest.raises(ValueError):
        ModelRecord("x", "judge")
    with pytest.raises(ValueError):
        ModelRecord("x", "base", random_init=True)  # a baseline names what it copies
    with pytest.raises(ValueError):
        Roster([ModelRecord("T", "teacher"), ModelRecord("T", "base")])


def test_hand_made_run_folders_are_read_by_the_documented_convention(tmp_path):
    roster = read_roster(tmp_path, ["teacher", "base", "student_x", "base__random_init", "mine"])
    assert roster.conditions() == {"x": "student_x", "mine": "mine"}
    assert roster.baseline_of("base").name == "base__random_init"
    (tmp_path / "roles.json").write_text("{not json")
    with pytest.raises(InputError, match="roles file"):
        read_roster(tmp_path)


def test_run_roster_from_a_config_records_students_baselines_and_duplicates(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    config = RunConfig(
        name="r",
        stages=["data", "generate", "distill", "capture"],
        models={"teacher": str(folder), "base": str(folder), "students": {"pub": str(folder)}},
        distill={"conditions": ["original", "rl"]},
    )
    roster = run_roster(config)
    names = roster.names
    assert names[:5] == ["teacher", "base", "student_original", "student_rl", "student_pub"]
    assert roster["base"].same_as == "teacher" and roster["student_pub"].same_as == "teacher"
    assert roster["student_original"].same_as is None  # trained by the run: its own folder
    assert roster["base__random_init"].same_as == "teacher__random_init"
    assert roster["student_rl__random_init"].same_as == "base__random_init"
    assert roster["teacher__random_init"].same_as is None
    other = RunConfig(name="r", models={"teacher": str(folder), "base": str(tmp_path)})
    assert run_roster(other)["base"].same_as is None
    bf16 = {"source": str(folder), "dtype": "bfloat16"}  # same folder, other options: two models
    assert (
        run_roster(RunConfig(name="r", models={"teacher": str(folder), "base": bf16}))[
            "base"
        ].same_as
        is None
    )


def test_identical_teacher_and_base_are_generated_and_captured_once(tmp_path):
    config_path = tmp_path / "same.yaml"
    config_path.write_text(
        """
name: same
seed: 0
threads: 1
stages: [data, generate, behaviour, capture, report]
tasks: {builtin: [relational_3ps], max_items_per_task: 6}
models: {teacher: organism:teacher, base: organism:teacher}
generate: {samples: 1, max_new_tokens: 48, batch_size: 6}
behaviour: {n_boot: 200, n_perm: 200, min_items: 5}
capture: {positions: [last_prompt], batch_size: 6, shard_size: 6}
report: {n_boot: 200, n_perm: 200}
"""
    )
    run_dir = tmp_path / "run"
    results = run_pipeline(load_config(config_path), run_dir)
    assert all(r.status == "ran" for r in results)
    teacher = [json.loads(line) for line in (run_dir / "traces" / "teacher.jsonl").open()]
    base = [json.loads(line) for line in (run_dir / "traces" / "base.jsonl").open()]
    assert [{**row, "model": "teacher"} for row in base] == teacher
    shard = next((run_dir / "activations" / "teacher").glob("*.safetensors"))
    twin = run_dir / "activations" / "base" / shard.name
    assert os.stat(shard).st_ino == os.stat(twin).st_ino  # one capture, linked
    manifest = json.loads((run_dir / "activations" / "base" / "manifest.json").read_text())
    assert manifest["model"] == "base" and manifest["shared_from"] == "teacher"
    assert sorted(p.name for p in (run_dir / "models").iterdir()) == ["teacher__random_init"]
    assert (run_dir / "entropy" / "base.csv").read_bytes() == (
        run_dir / "entropy" / "teacher.csv"
    ).read_bytes()
    assert read_roster(run_dir)["base"].same_as == "teacher"
    report = (run_dir / "report" / "report.md").read_text()
    assert "`base` is the same model as `teacher`" in report
