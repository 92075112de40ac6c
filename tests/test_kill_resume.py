"""A SIGKILL inside a write resumes to identical tables.

The real CLI runs in a subprocess (tests/kill_inside.py) with one write patched to stop part-way
and kill its own process: inside a capture shard, inside a final position file, inside the
entropy CSV, inside a probe direction file and inside probes.csv. The same command is then run
again and every file of the run folder must equal, byte for byte, an uninterrupted run's; the
temporaries the killed writer left are gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_limits

from mimicry.data.fileio import atomic_file, remove_stale_temps
from mimicry.data.lock import LOCK_NAME
from mimicry.experiments.cli import run
from tests.test_probe_run import make_run

WRAPPER = Path(__file__).with_name("kill_inside.py")
PROMPTS = (
    "A is left of B . Is A left of C ?",
    "All artists are bakers .",
    "If the light is on then the door is open . What follows ?",
    "north south",
    "0 1 2 3 4 5 6 7 8 9",
    "B is left of C .",
    "Let me think step by step .",
)


def killed(what: list[str], argv: list[str]) -> subprocess.CompletedProcess:
    """Run `mimicry argv` under the wrapper; it must die by SIGKILL."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MIMICRY_TEST_TORCH_THREADS": str(torch.get_num_threads()),
    }
    # Output goes to files, not pipes: the probe stage's worker processes outlive a SIGKILL of
    # their parent for a while and would hold a pipe open until they exit.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        done = subprocess.run(
            [sys.executable, str(WRAPPER), *what, "--", *argv],
            env=env,
            stdout=out,
            stderr=err,
            text=True,
            timeout=300,
        )
        out.seek(0)
        err.seek(0)
        done.stdout, done.stderr = out.read(), err.read()
    assert done.returncode == -9, (done.returncode, done.stderr[-2000:])
    return done


def files(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> bytes)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".tmp-" in p.name)


# --- capture -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def capture_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill-capture")
    items = pd.DataFrame(
        {
            "item_id": [f"item{k}" for k in range(len(PROMPTS))],
            "task": ["relational"] * len(PROMPTS),
            "prompt": list(PROMPTS),
            "answer": ["yes"] * len(PROMPTS),
        }
    )
    items.to_csv(root / "items.csv", index=False)
    with (root / "traces.jsonl").open("w") as handle:
        for k in range(len(PROMPTS) - 1):
            reasoning = " ".join(["so A is left of C"] * (k % 3 + 1))
            line = dict(
                item_id=f"item{k}",
                model="teacher",
                sample=0,
                reasoning=reasoning,
                answer="yes",
                correct=True,
                n_reasoning_tokens=len(reasoning.split()),
            )
            handle.write(json.dumps(line) + "\n")
    return root


def capture_argv(model: Path, inputs: Path, out: Path) -> list[str]:
    return [
        "capture",
        "--model",
        str(model),
        "--items",
        str(inputs / "items.csv"),
        "--traces",
        str(inputs / "traces.jsonl"),
        "--out",
        str(out),
        "--name",
        "tiny",
        "--batch-size",
        "3",
        "--shard-size",
        "2",
    ]


@pytest.fixture(scope="module")
def capture_reference(tiny_model_factory, capture_inputs, tmp_path_factory):
    model = tiny_model_factory("llama")
    out = tmp_path_factory.mktemp("kill-capture-ref") / "run"
    assert run(capture_argv(model, capture_inputs, out)) == 0
    return model, files(out)


@pytest.mark.parametrize(
    ("what", "left_behind"),
    [
        # the second of three shards, cut mid-file inside its temporary
        (["save_file", "2"], "activations/.tiny.partial/.shard-00001.safetensors.tmp-"),
        # the second final position file, inside the activations folder's temporary
        (["stream", "2"], "activations/.tiny.tmp-"),
        # the entropy table after 20 of its 96 rows
        (["csv:tiny.csv", "1", "20"], "entropy/.tiny.csv.tmp-"),
    ],
    ids=["shard", "position-file", "entropy-csv"],
)
def test_a_kill_inside_a_capture_write_resumes_to_identical_files(
    capture_reference, capture_inputs, tmp_path, what, left_behind
):
    model, reference = capture_reference
    out = tmp_path / "run"
    argv = capture_argv(model, capture_inputs, out)
    killed(what, argv)
    found = leftovers(out)
    assert any(name.startswith(left_behind) for name in found), found
    assert not (out / "activations" / "tiny").exists()
    finished = sorted(p.name for p in (out / "activations" / ".tiny.partial").glob("shard-*"))
    shards = [f"shard-{k:05d}.safetensors" for k in range(3)]
    assert finished == (shards[:1] if what[0] == "save_file" else shards)  # resumed from these
    assert (out / LOCK_NAME).exists()  # the killed writer's lock, taken over below

    assert run(argv) == 0
    assert leftovers(out) == []
    assert not (out / LOCK_NAME).exists()
    assert files(out) == reference


# --- probe -------------------------------------------------------------------------------------

PROBE_OPTIONS = [
    "--targets",
    "human_rt,difficulty_bin",
    "--n-boot",
    "30",
    "--n-perm",
    "5",
    "--n-perm-logistic",
    "2",
    "--cs",
    "1",
    "--folds",
    "3",
    "--no-figures",
]


@pytest.fixture(scope="module")
def probe_reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill-probe-ref")
    run_dir = make_run(root, models=("teacher", "student"), n_groups=8, n_layers=2, signal=4.0)
    with threadpool_limits(1):
        assert run(["probe", str(run_dir), *PROBE_OPTIONS]) == 0
    return files(run_dir)


@pytest.mark.parametrize(
    "what",
    [
        ["save_file", "2"],  # the second model's difficulty direction, mid-stage
        ["csv:probes.csv", "1", "5"],  # probes.csv after 5 rows
    ],
    ids=["direction-file", "probes-csv"],
)
def test_a_kill_inside_the_probe_stage_resumes_to_identical_tables(probe_reference, tmp_path, what):
    run_dir = make_run(tmp_path, models=("teacher", "student"), n_groups=8, n_layers=2, signal=4.0)
    argv = ["probe", str(run_dir), *PROBE_OPTIONS]
    killed(what, argv)
    found = leftovers(run_dir)
    assert any(name.startswith(".probes.tmp-") for name in found), found
    assert not (run_dir / "probes").exists()

    with threadpool_limits(1):
        assert run(argv) == 0
    assert leftovers(run_dir) == []
    got = files(run_dir)
    assert got == probe_reference
    assert b"teacher" in got["probes/probes.csv"] and b"student" in got["probes/probes.csv"]


# --- what is removed, and what is not ----------------------------------------------------------


def test_only_a_dead_writers_own_temporaries_are_removed(tmp_path):
    """The names a killed writer leaves (`.NAME.tmp-PID@HOST-*`, `.NAME.old-PID@HOST`) go; a live
    writer's, another host's, another name's and anything not in that form stay."""
    with atomic_file(tmp_path / "probe.txt") as tmp:
        tag = tmp.name.removeprefix(".probe.txt.tmp-").rsplit("-", 1)[0]
    pid, host = tag.split("@")
    assert int(pid) == os.getpid() and len(host) == 8

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale_dir = tmp_path / f".x.tmp-{dead.pid}@{host}-abc123"
        stale_dir.mkdir()
        (stale_dir / "probes.csv").write_text("half")
        stale_file = tmp_path / f".x.tmp-{dead.pid}@{host}-k9_z"
        stale_file.write_text("half")
        stale_old = tmp_path / f".x.old-{dead.pid}@{host}"
        stale_old.mkdir()
        kept = [
            tmp_path / f".x.tmp-{live.pid}@{host}-abc123",  # a live writer
            tmp_path / f".x.tmp-{dead.pid}@{'0' * 8 if host != '0' * 8 else '1' * 8}-abc",
            tmp_path / f".y.tmp-{dead.pid}@{host}-abc123",  # another output's temporary
            tmp_path / ".x.tmp-abc123",  # not in the writer-tagged form
            tmp_path / f"x.tmp-{dead.pid}@{host}-abc123",  # not hidden: a user's name
            tmp_path / "x",
        ]
        for path in kept:
            path.write_text("keep")
        removed = remove_stale_temps(tmp_path, "x")
        assert sorted(removed) == sorted([stale_dir, stale_file, stale_old])
        assert all(path.exists() for path in kept)
        assert not any(p.exists() for p in (stale_dir, stale_file, stale_old))
    finally:
        live.kill()
        live.wait()


def test_a_stale_probe_temporary_is_cleaned_by_the_next_probe_run(tmp_path):
    """A `.probes.tmp-*` folder a killed probe left (its pid gone) is removed by the next run."""
    run_dir = make_run(tmp_path, n_groups=6, n_layers=2)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with atomic_file(tmp_path / "t") as tmp:
        host = tmp.name.split("@")[1][:8]
    stale = run_dir / f".probes.tmp-{dead.pid}@{host}-q1w2e3"
    stale.mkdir()
    (stale / "probes.csv").write_text("model,layer\nteacher,")
    foreign = run_dir / ".probes.tmp-notours"
    foreign.mkdir()
    with threadpool_limits(1):
        assert run(["probe", str(run_dir), *PROBE_OPTIONS]) == 0
    assert not stale.exists()
    assert foreign.is_dir()  # not in the suite's naming: left alone
    assert (run_dir / "probes" / "probes.csv").is_file()
