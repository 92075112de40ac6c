"""The probe stage end to end on synthetic run directories with a planted difficulty signal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from experiments.cli import run as cli
from probes.probing import ProbeConfig, run_probes

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
            resid[:, SIGNAL_LAYER, 0] = difficulty + 0.3 * rng.normal(size=n)
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
    folds=5,
    seed=0,
    n_boot=200,
    n_perm=30,
    n_perm_logistic=5,
    alphas=(0.1, 1.0, 10.0, 100.0, 1000.0),
    cs=(0.01, 0.1, 1.0),
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
