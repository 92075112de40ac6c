"""Linear inflation law: k, mean log ratio and the slope of the log ratio on difficulty equal
independent computations, planted effects are found, exclusions are counted, bad input is one
line."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mimicry.data import stats
from mimicry.data.exclusions import Exclusions
from mimicry.experiments.behaviour.alignment import Resampling
from mimicry.experiments.behaviour.inflation import INFLATION_COLUMNS, inflation_table
from mimicry.experiments.cli import run

RESAMPLING = Resampling(seed=3, n_boot=2000, n_perm=2000)


def _costs(rng, *, n=(60, 45), growth=0.0, factor=2.44, noise=0.15) -> pd.DataFrame:
    """Teacher and student per-item costs over two tasks; the student's log ratio to the teacher
    is log(factor) + growth * (difficulty z-scored within task) + noise."""
    rows = []
    for task, n_items, scale in (("a", n[0], 1000.0), ("b", n[1], 0.3)):
        difficulty = rng.uniform(0, scale, n_items)  # RT-like and error-rate-like units
        z = (difficulty - difficulty.mean()) / difficulty.std()
        teacher = rng.uniform(50, 800, n_items)
        student = factor * teacher * np.exp(growth * z + rng.normal(0, noise, n_items))
        for i in range(n_items):
            for model, cost in (("teacher", teacher[i]), ("student", student[i])):
                rows.append((model, f"{task}{i}", task, cost, difficulty[i], "rt"))
    columns = ["model", "item_id", "task", "cost", "difficulty", "difficulty_norm"]
    return pd.DataFrame(rows, columns=columns)


def _pair(costs: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = costs[costs["task"] == task].pivot(index="item_id", columns="model")
    columns = [("cost", "teacher"), ("cost", "student"), ("difficulty", "teacher")]
    x, y, d = (t[c].to_numpy() for c in columns)
    return x, y, d


def test_constant_factor_is_recovered_with_a_flat_slope():
    costs = _costs(np.random.default_rng(1))
    raw = inflation_table(costs, "teacher", resampling=RESAMPLING)
    assert list(raw.columns) == list(INFLATION_COLUMNS)
    assert list(raw["task"]) == ["a", "b", "ALL"] and set(raw["model"]) == {"student"}
    table = raw.set_index("task")
    for task in ("a", "b", "ALL"):
        row = table.loc[task]
        assert row["status"] == "ok" and row["reference"] == "teacher"
        assert row["k_ci_low"] < 2.44 < row["k_ci_high"], task
        assert row["k_ci_low"] < row["k"] < row["k_ci_high"]
        assert row["slope_ci_low"] < 0 < row["slope_ci_high"], task
        assert row["slope_p"] > 0.05
        assert row["geo_mean_ratio"] == pytest.approx(np.exp(row["mean_log_ratio"]), rel=1e-12)
    for task in ("a", "b"):
        x, y, _ = _pair(costs, task)
        k = np.linalg.lstsq(x[:, None], y, rcond=None)[0][0]
        assert table.loc[task, "k"] == pytest.approx(k, abs=1e-9)
        assert table.loc[task, "mean_log_ratio"] == pytest.approx(np.log(y / x).mean(), abs=1e-12)
    xa, ya, _ = _pair(costs, "a")
    xb, yb, _ = _pair(costs, "b")
    x, y = np.r_[xa, xb], np.r_[ya, yb]
    k_all = np.linalg.lstsq(x[:, None], y, rcond=None)[0][0]
    assert table.loc["ALL", "k"] == pytest.approx(k_all, abs=1e-9)
    assert table.loc["ALL", "n"] == len(x) == 105


def test_intervals_cover_the_planted_factor_and_zero_slope_about_95_percent():
    resampling = Resampling(seed=0, n_boot=400, n_perm=50)
    hits = np.zeros((2, 3))
    n_rep = 40
    for rep in range(n_rep):
        costs = _costs(np.random.default_rng(100 + rep), n=(40, 30))
        table = inflation_table(costs, "teacher", resampling=resampling)
        hits[0] += (table["k_ci_low"] < 2.44) & (2.44 < table["k_ci_high"])
        hits[1] += (table["slope_ci_low"] < 0) & (0 < table["slope_ci_high"])
    # 95% intervals: at 40 replicates, fewer than 32 hits (80%) is very unlikely (p < 0.001).
    assert (hits >= 32).all(), hits


def test_ratio_growing_with_difficulty_gives_a_positive_significant_slope():
    costs = _costs(np.random.default_rng(1), growth=0.25)
    table = inflation_table(costs, "teacher", resampling=RESAMPLING).set_index("task")
    for task in ("a", "b", "ALL"):
        row = table.loc[task]
        assert row["slope"] > 0 and row["slope_ci_low"] > 0, task
        assert row["slope_p"] < 0.05, task
    # Per task: OLS slope of the log ratio on difficulty z-scored within task.
    design, target = [], []
    for j, task in enumerate(("a", "b")):
        x, y, d = _pair(costs, task)
        z = (d - d.mean()) / d.std()
        slope = np.polyfit(z, np.log(y / x), 1)[0]
        assert table.loc[task, "slope"] == pytest.approx(slope, abs=1e-9)
        dummies = np.zeros((len(z), 2))
        dummies[:, j] = 1.0
        design.append(np.column_stack([z, dummies]))
        target.append(np.log(y / x))
    # ALL: the same slope with task fixed effects (OLS on z plus one dummy per task).
    fe = np.linalg.lstsq(np.vstack(design), np.concatenate(target), rcond=None)[0][0]
    assert table.loc["ALL", "slope"] == pytest.approx(fe, abs=1e-9)
    assert table.loc["ALL", "difficulty_norm"] == "rt"


def test_exact_slope_p_equals_enumerating_every_permutation():
    costs = _costs(np.random.default_rng(8), n=(7, 20), growth=0.2)
    resampling = Resampling(seed=0, n_boot=200, n_perm=6000)  # 7! = 5040 permutations fit
    row = inflation_table(costs, "teacher", resampling=resampling).set_index("task").loc["a"]
    x, y, d = _pair(costs, "a")
    ratio = np.log(y / x)
    observed = np.polyfit(d, ratio, 1)[0] * d.std()  # slope per SD of difficulty
    null = [np.polyfit(d[list(p)], ratio, 1)[0] * d.std() for p in itertools.permutations(range(7))]
    expected = np.mean(np.abs(null) >= abs(observed) - 1e-12)
    assert row["slope_p_exact"] and row["slope_p"] == pytest.approx(expected, abs=1e-12)
    assert row["slope"] == pytest.approx(observed, abs=1e-9)


def test_bootstrap_ci_equals_a_loop_over_the_same_resamples():
    costs = _costs(np.random.default_rng(2), n=(30, 20))
    resampling = Resampling(seed=7, n_boot=300, n_perm=300)
    row = inflation_table(costs, "teacher", resampling=resampling).set_index("task").loc["a"]
    x, y, _ = _pair(costs, "a")
    ids = sorted(costs[costs["task"] == "a"]["item_id"].unique())
    order = np.argsort(pd.Index(ids))  # _pair's pivot sorts the same way
    assert (order == np.arange(len(ids))).all()
    rng = resampling.rng("inflation", "a", "\n".join(ids))
    k = [x[i] @ y[i] / (x[i] @ x[i]) for i in stats.bootstrap_indices(rng, 300, len(ids))]
    assert row["k_ci_low"] == pytest.approx(np.percentile(k, 2.5), abs=1e-9)
    assert row["k_ci_high"] == pytest.approx(np.percentile(k, 97.5), abs=1e-9)


def test_zero_and_missing_costs_are_excluded_and_counted():
    costs = _costs(np.random.default_rng(3), n=(20, 10))
    student = costs["model"] == "student"
    costs.loc[student & (costs["item_id"] == "a0"), "cost"] = 0.0
    costs.loc[(costs["model"] == "teacher") & (costs["item_id"] == "a1"), "cost"] = np.nan
    costs = costs[~(student & (costs["item_id"] == "a2"))]  # no trace for the student
    costs.loc[costs["item_id"] == "a3", "difficulty"] = np.nan  # no norm: out of the slope only
    ledger = Exclusions()
    table = inflation_table(costs, "teacher", resampling=RESAMPLING, ledger=ledger)
    row = table.set_index("task").loc["a"]
    assert row["n"] == 17 and row["n_excluded"] == 3 and row["n_slope"] == 16
    assert row["excluded_reasons"] == "missing_cost=2;slope:missing_norm=1;zero_cost=1"
    counts = {(s, t, r): n for (s, m, t, r), n in ledger.counts.items()}
    assert counts[("inflation", "a", "zero_cost")] == 1
    assert counts[("inflation", "a", "missing_cost")] == 2
    assert counts[("inflation.slope", "a", "missing_norm")] == 1
    assert {m for (_, m, _, _) in ledger.counts} == {"student vs teacher"}
    x, y, _ = _pair(costs.dropna(subset=["cost"]).query("cost > 0"), "a")
    keep = np.isfinite(x) & np.isfinite(y)
    assert row["k"] == pytest.approx(x[keep] @ y[keep] / (x[keep] @ x[keep]), abs=1e-9)
    assert table.set_index("task").loc["ALL", "n_excluded"] == 3


def test_a_task_without_norm_keeps_k_and_counts_the_slope_exclusion():
    costs = _costs(np.random.default_rng(6), n=(20, 12))
    in_b = costs["task"] == "b"
    costs.loc[in_b, "difficulty"] = np.nan
    costs.loc[in_b, "difficulty_norm"] = "none"
    ledger = Exclusions()
    table = inflation_table(costs, "teacher", resampling=RESAMPLING, ledger=ledger)
    table = table.set_index("task")
    row = table.loc["b"]
    assert row["status"] == "ok" and row["n"] == 12 and np.isfinite(row["k"])
    assert row["difficulty_norm"] == "none" and row["n_slope"] == 0 and np.isnan(row["slope"])
    assert ledger.counts[("inflation.slope", "student vs teacher", "b", "task_without_norm")] == 12
    # ALL: k over both tasks, the slope from the task with a norm only.
    assert table.loc["ALL", "n"] == 32 and table.loc["ALL", "n_slope"] == 20
    assert table.loc["ALL", "slope"] == pytest.approx(table.loc["a", "slope"], abs=1e-12)
    assert table.loc["ALL", "difficulty_norm"] == "rt"


def test_too_few_items_keeps_the_row_without_statistics():
    costs = _costs(np.random.default_rng(4), n=(20, 4))
    ledger = Exclusions()
    table = inflation_table(costs, "teacher", resampling=RESAMPLING, ledger=ledger, min_items=5)
    row = table.set_index("task").loc["b"]
    assert row["status"] == "too_few_items" and row["n"] == 0 and np.isnan(row["k"])
    assert ledger.counts[("inflation", "student vs teacher", "b", "too_few_items")] == 4
    assert table.set_index("task").loc["ALL", "n"] == 20


def _write_study(tmp: Path) -> None:
    rng = np.random.default_rng(5)
    items, lines = [], []
    for task, n in (("rel", 14), ("syl", 10)):
        for i in range(n):
            rt = float(rng.uniform(600, 4000)) if task == "rel" else ""
            items.append((task, f"{task}{i}", rt, float(rng.uniform(0.3, 0.95))))
            base = float(rng.uniform(40, 300))
            for model, factor in (("teacher", 1.0), ("student", 2.44), ("other", 1.5)):
                for sample in range(2):
                    tokens = int(round(base * factor * np.exp(rng.normal(0, 0.1))))
                    line = {"item_id": f"{task}{i}", "model": model, "sample": sample}
                    line |= {"reasoning": "so", "answer": "yes", "correct": bool(sample)}
                    lines.append(line | {"n_reasoning_tokens": tokens})
    frame = pd.DataFrame(items, columns=["task", "item_id", "human_rt_ms", "human_acc"])
    frame.assign(prompt="p", answer="yes").to_csv(tmp / "items.csv", index=False)
    (tmp / "traces.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


def _behaviour(tmp: Path, *extra: str) -> int:
    argv = ["behaviour", "--items", str(tmp / "items.csv"), "--traces", str(tmp / "traces.jsonl")]
    opts = ["--n-boot", "200", "--n-perm", "200", "--no-figures"]
    return run([*argv, "--out", str(tmp / "out"), *opts, *extra])


def test_cli_writes_inflation_csv_with_the_norm_of_each_task(tmp_path):
    _write_study(tmp_path)
    assert _behaviour(tmp_path, "--reference", "teacher") == 0
    raw = pd.read_csv(tmp_path / "out" / "inflation.csv")
    assert list(raw.columns) == list(INFLATION_COLUMNS)
    table = raw.set_index(["model", "task"])
    assert sorted(table.index) == [
        (m, t) for m in ("other", "student") for t in ("ALL", "rel", "syl")
    ]
    assert table.loc[("student", "rel"), "difficulty_norm"] == "rt"
    assert table.loc[("student", "syl"), "difficulty_norm"] == "error"
    assert table.loc[("student", "ALL"), "difficulty_norm"] == "rt+error"
    student = table.loc[("student", "ALL")]
    assert student["k_ci_low"] < 2.44 < student["k_ci_high"]
    assert table.loc[("other", "ALL"), "k"] == pytest.approx(1.5, abs=0.05)
    assert "## Inflation relative to teacher" in (tmp_path / "out" / "report.md").read_text()
    settings = json.loads((tmp_path / "out" / "settings.json").read_text())
    assert settings["reference"] == "teacher" and settings["difficulty"] == "auto"


def test_without_reference_inflation_csv_has_only_the_header(tmp_path):
    _write_study(tmp_path)
    assert _behaviour(tmp_path) == 0
    table = pd.read_csv(tmp_path / "out" / "inflation.csv")
    assert table.empty and list(table.columns) == list(INFLATION_COLUMNS)
    assert "Inflation relative" not in (tmp_path / "out" / "report.md").read_text()


def test_unknown_reference_is_a_one_line_input_error(tmp_path, capsys):
    _write_study(tmp_path)
    assert _behaviour(tmp_path, "--reference", "nobody") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    assert "field 'reference'" in err and "'nobody'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
