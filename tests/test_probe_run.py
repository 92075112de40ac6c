"""The probe stage end to end on synthetic run directories with a planted difficulty signal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from mimicry.experiments.cli import run as cli
from mimicry.probes.probing import ProbeConfig, run_probes
from mimicry.probes.probing.targets import ALL_TARGETS
from tests.roster import write_roster

SIGNAL_LAYER = 2


def make_run(
    root: Path,
    *,
    n_groups: int = 20,
    per_group: int = 5,
    n_layers: int = 4,
    d_model: int = 16,
    seed: int = 0,
    models=("teacher",),
    random_init: bool = False,
    signal: float = 1.0,
) -> Path:
    """A run whose human RT is linear in one layer's activations; other layers are noise."""
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    item_ids = [f"i{k:03d}" for k in range(n)]
    tasks = np.where(np.arange(n) < n // 2, "taskA", "taskB")
    groups = [f"g{k // per_group}" for k in range(n)]
    difficulty = rng.normal(size=n)
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "task": tasks,
            "prompt": [f"prompt {k} " + "word " * int(rng.integers(3, 9)) for k in range(n)],
            "answer": ["yes"] * n,
            "human_rt_ms": 2000 + 400 * difficulty + np.where(tasks == "taskA", 0, 1000),
            "human_acc": np.clip(0.8 - 0.1 * difficulty, 0, 1),
            "n_humans": 30,
            "group": groups,
            "feat_n_premises": rng.integers(2, 5, size=n),
        }
    )
    run = root / "run"
    run.mkdir(parents=True)
    items.to_csv(run / "items.csv", index=False)
    names = list(models) + ([f"{models[0]}__random_init"] if random_init else [])
    traces = []
    for name in names:
        resid = rng.normal(size=(n, n_layers + 1, d_model))
        if not name.endswith("__random_init"):
            resid[:, SIGNAL_LAYER, 0] = signal * (difficulty + 0.3 * rng.normal(size=n))
        folder = run / "activations" / name
        folder.mkdir(parents=True)
        save_file(
            {"resid": torch.tensor(resid, dtype=torch.float32)}, folder / "last_prompt.safetensors"
        )
        manifest = {
            "model": name,
            "item_ids": item_ids,
            "n_layers": n_layers,
            "d_model": d_model,
            "positions": ["last_prompt"],
        }
        (folder / "manifest.json").write_text(json.dumps(manifest))
        if not name.endswith("__random_init"):
            for k, item in enumerate(item_ids):
                tokens = int(np.exp(3 + 0.5 * difficulty[k]))
                traces.append(
                    {
                        "item_id": item,
                        "model": name,
                        "sample": 0,
                        "reasoning": "x",
                        "answer": "yes",
                        "correct": bool(difficulty[k] < 0.5),
                        "n_reasoning_tokens": tokens,
                    }
                )
    (run / "traces").mkdir()
    with open(run / "traces" / "all.jsonl", "w") as handle:
        for row in traces:
            handle.write(json.dumps(row) + "\n")
    return run


FAST = ProbeConfig(
    targets=list(ALL_TARGETS),  # every target (the stage's default is four of them)
    folds=5,
    seed=0,
    n_boot=100,
    n_perm=30,
    n_perm_logistic=2,
    alphas=(0.1, 1.0, 10.0, 100.0, 1000.0),
    cs=(1.0,),
)


def test_planted_layer_is_found_and_baselines_sit_beside_it(tmp_path):
    run = make_run(tmp_path, random_init=True)
    out = run_probes(run, config=FAST)
    table = pd.read_csv(out / "probes.csv")
    rt = table[(table.target == "human_rt") & (table.metric == "r2")]
    acts = rt[rt.feature_set == "activations"].set_index("layer")
    assert acts["score"].idxmax() == SIGNAL_LAYER
    assert acts.loc[SIGNAL_LAYER, "score"] > 0.6
    assert acts.loc[SIGNAL_LAYER, "p_value"] <= 1 / 31 + 1e-12
    assert acts.loc[SIGNAL_LAYER, "ci_low"] > 0.4
    noise = acts.drop(SIGNAL_LAYER)
    assert (noise["selectivity"].abs() < 0.15).all()
    assert acts.loc[SIGNAL_LAYER, "selectivity"] > 0.5
    assert set(rt.feature_set) == {"activations", "control", "embedding", "random_init", "surface"}
    assert (rt[rt.feature_set == "random_init"]["score"] < 0.2).all()
    assert set(table.target) >= {
        "human_rt",
        "human_acc",
        "own_length",
        "correct",
        "difficulty_bin",
        "human_rt_partial_own_length",
        "own_length_partial_human_rt",
    }
    # own length is a function of difficulty here, so regressing it out removes the signal
    partial = table[
        (table.target == "human_rt_partial_own_length")
        & (table.metric == "r2")
        & (table.feature_set == "activations")
    ]
    assert partial["score"].max() < 0.2
    bins = table[(table.target == "difficulty_bin") & (table.feature_set == "activations")]
    assert bins.set_index("layer")["score"].idxmax() == SIGNAL_LAYER
    assert (run / "report" / "figures" / "probe_human_rt_last_prompt.png").is_file()
    assert (out / "exclusions.csv").read_text().startswith("stage,model,task,reason,n,example")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Tiny fits thrash when BLAS threads compete on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def test_cli_probe_writes_tables_and_compare(tmp_path, capsys):
    run = make_run(
        tmp_path, models=("teacher", "student", "base"), n_groups=10, n_layers=2, signal=4.0
    )
    write_roster(run, ["teacher", "base", "student"])
    code = cli(
        [
            "probe",
            str(run),
            "--targets",
            "human_rt,difficulty_bin",
            "--n-boot",
            "50",
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
    )
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(run / "probes" / "probes.csv")
    assert list(table.columns[:15]) == [
        "model",
        "position",
        "layer",
        "rel_depth",
        "target",
        "probe",
        "feature_set",
        "score",
        "ci_low",
        "ci_high",
        "control_score",
        "selectivity",
        "p_value",
        "n_items",
        "metric",
    ]
    assert set(table.model) == {"teacher", "student", "base"}
    compare = pd.read_csv(run / "probes" / "compare.csv")
    pairs = set(zip(compare.model_a, compare.model_b, strict=True))
    assert pairs == {("student", "base"), ("student", "teacher"), ("teacher", "base")}
    assert compare.cka.between(0, 1).all()
    # every model has its planted feature on axis 0 of layer 2, so directions agree there
    at_signal = compare[compare.layer_a == SIGNAL_LAYER].direction_cosine
    elsewhere = compare[compare.layer_a != SIGNAL_LAYER].direction_cosine.abs()
    assert at_signal.min() > 0.9 and elsewhere.max() < 0.8
    assert (run / "probes" / "directions" / "teacher" / "last_prompt.safetensors").is_file()


def _write_manifest(run, **changes):
    path = run / "activations" / "teacher" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "breakage,message",
    [
        ("no_activations", "no activations found"),
        ("unknown_id", "not in the item table"),
        ("row_count", "does not match the manifest"),
        ("nan_activation", "NaN or infinite activations"),
        ("nan_feature", "field 'feat_n_premises'"),
        ("few_groups", "distinct groups"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, capsys, breakage, message):
    run = make_run(tmp_path, n_groups=6, n_layers=2)
    if breakage == "no_activations":
        import shutil

        shutil.rmtree(run / "activations")
    elif breakage == "unknown_id":
        ids = json.loads((run / "activations/teacher/manifest.json").read_text())["item_ids"]
        _write_manifest(run, item_ids=["zzz", *ids[1:]])
    elif breakage == "row_count":
        ids = json.loads((run / "activations/teacher/manifest.json").read_text())["item_ids"]
        _write_manifest(run, item_ids=ids[:-1])
    elif breakage == "nan_activation":
        resid = torch.zeros(30, 3, 16)
        resid[4, 2, 3] = float("nan")
        save_file({"resid": resid}, run / "activations/teacher/last_prompt.safetensors")
    elif breakage == "nan_feature":
        items = pd.read_csv(run / "items.csv")
        items.loc[7, "feat_n_premises"] = np.nan
        items.to_csv(run / "items.csv", index=False)
    elif breakage == "few_groups":
        items = pd.read_csv(run / "items.csv")
        items["group"] = items["task"]
        items.to_csv(run / "items.csv", index=False)
    code = cli(["probe", str(run), "--targets", "human_rt", "--n-perm", "2", "--n-boot", "10"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert message in err
    assert not (run / "probes").exists()


def test_worker_processes_do_not_change_the_table(tmp_path):
    one = make_run(tmp_path / "one", random_init=True)
    two = make_run(tmp_path / "two", random_init=True)
    config = FAST.model_copy(update={"targets": ["human_rt", "correct", "difficulty_bin"]})
    serial = pd.read_csv(
        run_probes(one, config=config.model_copy(update={"n_jobs": 1})) / "probes.csv"
    )
    parallel = pd.read_csv(
        run_probes(two, config=config.model_copy(update={"n_jobs": 2})) / "probes.csv"
    )
    assert set(serial["probe"]) == {"ridge", "ridge_classifier"}
    pd.testing.assert_frame_equal(serial, parallel, rtol=1e-9, atol=1e-12)


def test_logistic_class_probe_stays_available(tmp_path):
    run = make_run(tmp_path, random_init=False)
    config = FAST.model_copy(update={"targets": ["correct"], "class_probe": "logistic"})
    table = pd.read_csv(run_probes(run, config=config) / "probes.csv")
    assert set(table["probe"]) == {"logistic"}
    assert set(table["metric"]) == {"auroc"}


def test_a_training_fold_with_one_class_is_counted_in_the_exclusions(tmp_path):
    run = make_run(tmp_path)
    path = run / "traces" / "all.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:  # only group g0 (items i000-i004) is ever correct
        row["correct"] = row["item_id"] < "i005"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = run_probes(run, config=FAST.model_copy(update={"targets": ["correct"]}))
    table = pd.read_csv(out / "probes.csv")
    assert len(table) and table["score"].notna().any()
    ledger = pd.read_csv(out / "exclusions.csv")
    counted = ledger[ledger["reason"] == "one_class_training_fold"]
    assert len(counted) == 1
    # the outer fold holding g0 trains on wrong answers only; some permutations do the same
    assert "1 real" in counted["example"].iloc[0]
    assert counted["n"].iloc[0] >= 1


def test_a_target_with_too_few_groups_is_skipped_and_counted_not_fatal(tmp_path):
    """A model that parsed items of 3 groups only: its own_length cannot take 5 grouped folds, so
    that target alone is skipped and counted; the other targets and the other model are fitted."""
    run = make_run(tmp_path, models=("teacher", "base"))
    path = run / "traces" / "all.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:  # the base parsed only the items of groups g0-g2 (i000-i014)
        if row["model"] == "base" and row["item_id"] >= "i015":
            row["answer"] = ""  # no answer found: read as parsed = False
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    config = FAST.model_copy(update={"targets": ["human_rt", "own_length"]})
    out = run_probes(run, config=config)
    table = pd.read_csv(out / "probes.csv")
    fitted = set(zip(table["model"], table["target"], strict=True))
    assert fitted == {("teacher", "human_rt"), ("teacher", "own_length"), ("base", "human_rt")}
    ledger = pd.read_csv(out / "exclusions.csv")
    skipped = ledger[ledger["reason"] == "too_few_groups"]
    assert list(skipped["model"]) == ["base"]
    assert skipped["n"].iloc[0] == 15
    assert (
        "own_length" in skipped["example"].iloc[0] and "3 item groups" in skipped["example"].iloc[0]
    )
