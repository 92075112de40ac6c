"""End to end: the smoke config through every real stage on the shipped organism, each output
file checked, the report rendered (and screenshotted in headless Chromium where installed), and
runs killed during capture and during distillation resumed to the same tables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from safetensors.numpy import load_file

from mimicry.data.models import read_roster
from mimicry.distill.organism import WEIGHTS_DIR
from mimicry.experiments.config import STAGE_NAMES, load_config
from tests.test_report_render import SECTION_TITLES

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "experiments" / "configs" / "organism-smoke.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

ORGANISM = Path(os.environ.get("MIMICRY_ORGANISM_DIR", WEIGHTS_DIR))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (ORGANISM / "teacher" / "model.safetensors").is_file()
        or not (ORGANISM / "base" / "model.safetensors").is_file(),
        reason=f"no organism weights in {ORGANISM} (mimicry demo --retrain-organism writes them)",
    ),
]

TABLES = (
    "items.csv",
    "behaviour/alignment.csv",
    "behaviour/summary.csv",
    "behaviour/transfer.csv",
    "probes/probes.csv",
    "probes/compare.csv",
    "probes/steer.csv",
    "report/entropy_difficulty.csv",
)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One uninterrupted smoke run through the installed CLI, as a user runs it; what it printed
    is kept next to the run folder (`terminal.txt`)."""
    run_dir = tmp_path_factory.mktemp("e2e") / "run"
    command = [sys.executable, "-m", "mimicry", "run", str(SMOKE), "--out", str(run_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "100"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO, timeout=1200)
    (run_dir.parent / "terminal.txt").write_text(done.stderr + done.stdout)  # stdout last
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


def test_the_terminal_shows_no_warning_or_library_progress_and_ends_with_numbers(smoke_run):
    """Quiet terminal: no warning of any kind, no library progress bar, a headline at the end."""
    text = (smoke_run.parent / "terminal.txt").read_text()
    for noise in ("Warning", "warn(", "Loading weights", "Writing model shards", "it/s]", "Map:"):
        assert noise not in text, f"{noise!r} printed:\n{text[-3000:]}"
    tail = text.strip().splitlines()[-12:]  # the end of stdout: headline, then the report
    assert any("report" in line and "index.html" in line for line in tail), tail
    assert any("r̄" in line or "accuracy" in line for line in tail), tail


def _models(config) -> list[str]:
    return ["teacher", "base", *(f"student_{c}" for c in config.distill.conditions)]


def test_every_stage_writes_its_files(smoke_run):
    config = load_config(SMOKE)
    run_dir = smoke_run
    items = pd.read_csv(run_dir / "items.csv", dtype={"item_id": str})
    assert set(items["task"]) == set(config.tasks.builtin)
    assert items.groupby("task").size().max() <= config.tasks.max_items_per_task
    assert (run_dir / "train_items.csv").is_file()
    for model in _models(config):
        traces = [
            json.loads(x) for x in (run_dir / "traces" / f"{model}.jsonl").read_text().splitlines()
        ]
        assert {t["item_id"] for t in traces} == set(items["item_id"])
        assert all(
            {"reasoning", "answer", "correct", "n_reasoning_tokens"} <= set(t) for t in traces
        )
    assert {"rl", "sft_then_rl"} <= set(config.distill.conditions)
    for condition in config.distill.sft_conditions:
        assert (run_dir / "ablations" / condition / "train.jsonl").stat().st_size > 0
        assert (run_dir / "ablations" / condition / "check.json").is_file()
    for condition in config.distill.conditions:
        student = run_dir / "students" / condition
        assert (student / "model.safetensors").is_file() and (student / "config.json").is_file()
        log = pd.read_csv(student / "training_log.csv")
        if condition in config.distill.sft_conditions:
            assert len(log) == config.distill.max_steps
        else:  # GRPO logs reward and completion length at its logging steps
            assert log["step"].max() == config.distill.rl.max_steps
            assert {"reward", "mean_completion_length"} <= set(log.columns)
    assert not (run_dir / "ablations" / "rl").exists()
    # sft_then_rl starts from student_original: its weights differ from both the base's and it
    original = load_file(run_dir / "students" / "original" / "model.safetensors")
    after = load_file(run_dir / "students" / "sft_then_rl" / "model.safetensors")
    assert any(abs(original[k] - after[k]).max() > 0 for k in original)
    alignment = pd.read_csv(run_dir / "behaviour" / "alignment.csv")
    assert set(alignment["model"]) == set(_models(config))
    pairs = {f"student_{c}=base" for c in config.distill.conditions}
    settings = json.loads((run_dir / "behaviour" / "settings.json").read_text())
    assert set(settings["pairs"]) == pairs
    # each student-base pair has transfer rows, or its absence is a counted exclusion (the
    # organism's base answers without reasoning, so its cost is constant and r undefined)
    transfer = pd.read_csv(run_dir / "behaviour" / "transfer.csv")
    excluded = pd.read_csv(run_dir / "behaviour" / "exclusions.csv")
    for pair in pairs:
        student = pair.split("=")[0]
        assert student in set(transfer["student"]) or pair in set(excluded["model"])
    captured = [*_models(config), "teacher__random_init", "base__random_init"]
    for model in captured + [f"student_{c}__random_init" for c in config.distill.conditions]:
        manifest = json.loads((run_dir / "activations" / model / "manifest.json").read_text())
        for position in config.capture.positions:
            resid = load_file(run_dir / "activations" / model / f"{position}.safetensors")["resid"]
            assert resid.shape[0] == len(manifest["item_ids"])
            assert resid.shape[1] == manifest["n_layers"] + 1
    for model in captured:
        entropy = pd.read_csv(run_dir / "entropy" / f"{model}.csv")
        assert {"item_id", "layer", "head", "region", "entropy", "entropy_norm"} <= set(
            entropy.columns
        )
    probes = pd.read_csv(run_dir / "probes" / "probes.csv")
    assert set(config.probe.targets) <= set(probes["target"])
    assert {"activations", "random_init", "surface"} <= set(probes["feature_set"])
    assert set(_models(config)) <= set(probes["model"])
    compare = pd.read_csv(run_dir / "probes" / "compare.csv")
    assert {"cka", "direction_cosine"} <= set(compare.columns) and len(compare)
    steer = pd.read_csv(run_dir / "probes" / "steer.csv")
    assert sorted(steer["alpha"]) == sorted(set(config.steer.alphas) | {0.0})
    roster = read_roster(run_dir)
    assert [r.name for r in roster.with_role("teacher")] == ["teacher"]
    assert [r.name for r in roster.students()] == [
        f"student_{c}" for c in config.distill.conditions
    ]
    assert roster.baseline_of("student_original").same_as == "base__random_init"
    stamps = {p.parent.parent.name for p in (run_dir / ".stamps").glob("*/*/.mimicry-stamp.json")}
    assert stamps == set(STAGE_NAMES)


def test_report_has_every_section_and_every_exclusion(smoke_run):
    page = (smoke_run / "report" / "index.html").read_text()
    markdown = (smoke_run / "report" / "report.md").read_text()
    for title in SECTION_TITLES:
        assert title in page and title in markdown
    for model in ("teacher", "base", "student_original", "student_length_matched"):
        assert model in page
    assert "src='http" not in page and "href='http" not in page
    assert page.count("data:image/png;base64,") >= 6
    # every exclusion of every stage is in the report
    for path in smoke_run.rglob("*exclusions.csv"):
        if ".stamps" in path.parts:
            continue
        for reason in pd.read_csv(path)["reason"].astype(str):
            assert reason.replace("'", "&#x27;").replace(">", "&gt;") in page, (path, reason)


def test_rerun_skips_every_stage(smoke_run):
    from mimicry.experiments.pipeline import run_pipeline

    results = run_pipeline(load_config(SMOKE), smoke_run)
    assert {r.stage for r in results} == set(STAGE_NAMES)
    assert [(r.stage, r.unit) for r in results if r.status != "skipped"] == []


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)
def test_report_renders_in_headless_chromium(smoke_run):
    screenshot = smoke_run / "report" / "screenshot.png"
    profile = tempfile.mkdtemp()
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={screenshot}",
            "--window-size=1280,4000",
            (smoke_run / "report" / "index.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    shutil.rmtree(profile, ignore_errors=True)
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


def _resume_after_kill(reference: Path, tmp: Path, stage: str, restart_from: str) -> Path:
    """Copy the reference run as it stood before `restart_from`, kill a run inside `stage`,
    re-run it, and return the finished directory."""
    run_dir = tmp / f"killed-in-{stage}"
    shutil.copytree(reference, run_dir)
    later = STAGE_NAMES[STAGE_NAMES.index(restart_from) :]
    outputs = {
        "distill": ["students"],
        "generate_students": [],
        "behaviour": ["behaviour"],
        "capture": ["activations", "entropy", "models"],
        "probe": ["probes"],
        "compare": [],
        "steer": [],
        "report": ["report"],
    }
    for name in later:
        shutil.rmtree(run_dir / ".stamps" / name, ignore_errors=True)
        for folder in outputs.get(name, []):
            shutil.rmtree(run_dir / folder, ignore_errors=True)
    if restart_from == "distill":
        for model in ("student_original", "student_length_matched"):
            (run_dir / "traces" / f"{model}.jsonl").unlink()
    command = [sys.executable, "-m", "mimicry", "run", str(SMOKE), "--out", str(run_dir)]
    env = {**os.environ, "MIMICRY_FAIL_AFTER": f"{stage}:1:inside", "OMP_NUM_THREADS": "1"}
    killed = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (run_dir / "report" / "index.html").exists()
    env.pop("MIMICRY_FAIL_AFTER")
    resumed = subprocess.run(
        command, env=env, capture_output=True, text=True, cwd=REPO, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    return run_dir


def _assert_same_tables(reference: Path, other: Path) -> None:
    for table in TABLES:
        pd.testing.assert_frame_equal(
            pd.read_csv(reference / table),
            pd.read_csv(other / table),
            check_exact=False,
            rtol=1e-6,
            obj=table,
        )


def test_killed_during_capture_resumes_to_the_same_tables(smoke_run, tmp_path):
    resumed = _resume_after_kill(smoke_run, tmp_path, "capture", "capture")
    _assert_same_tables(smoke_run, resumed)
    for model in ("teacher", "base__random_init"):
        a = load_file(smoke_run / "activations" / model / "last_prompt.safetensors")["resid"]
        b = load_file(resumed / "activations" / model / "last_prompt.safetensors")["resid"]
        assert (a == b).all()


def test_killed_during_distillation_resumes_to_the_same_tables(smoke_run, tmp_path):
    resumed = _resume_after_kill(smoke_run, tmp_path, "distill", "distill")
    for condition in ("original", "length_matched"):
        a = load_file(smoke_run / "students" / condition / "model.safetensors")
        b = load_file(resumed / "students" / condition / "model.safetensors")
        assert all(abs(a[k] - b[k]).max() < 1e-6 for k in a)
    _assert_same_tables(smoke_run, resumed)
