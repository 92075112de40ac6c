"""Cost when wrong vs when right: the paired differences, Cohen's d_z and the sign-flip p equal
hand computations, planted effects are found with the right sign, exclusions are counted."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mimicry.data.exclusions import Exclusions
from mimicry.experiments.behaviour.alignment import Resampling
from mimicry.experiments.behaviour.wrong_right import (
    ONE_SAMPLE,
    WRONG_RIGHT_COLUMNS,
    item_contrasts,
    wrong_right_table,
)
from mimicry.experiments.cli import run

RESAMPLING = Resampling(seed=1, n_boot=2000, n_perm=2000)


def _traces(rng, *, n_items=(30, 20), n_samples=4, extra=60.0, model="m") -> pd.DataFrame:
    """Samples whose tokens are an item baseline, plus `extra` (times a per-item factor) when
    the sample is wrong; each item has at least one correct and one wrong sample."""
    rows = []
    for task, n in zip(("a", "b"), n_items, strict=True):
        for i in range(n):
            base = rng.uniform(100, 600)
            correct = [True, False] + list(rng.random(n_samples - 2) < 0.5)
            for sample, ok in enumerate(correct):
                tokens = base + rng.normal(0, 20) + (0.0 if ok else extra * rng.uniform(0.5, 1.5))
                rows.append(
                    {
                        "item_id": f"{task}{i}",
                        "model": model,
                        "sample": sample,
                        "correct": bool(ok),
                        "parsed": True,
                        "n_reasoning_tokens": int(round(max(tokens, 0))),
                        "task": task,
                    }
                )
    return pd.DataFrame(rows)


def _items(traces: pd.DataFrame) -> pd.DataFrame:
    return traces[["item_id", "task"]].drop_duplicates()


def _hand_differences(traces: pd.DataFrame, task: str | None = None) -> np.ndarray:
    t = traces if task is None else traces[traces["task"] == task]
    t = t[t["parsed"]]
    means = t.groupby(["item_id", "correct"])["n_reasoning_tokens"].mean().unstack()
    means = means.dropna()
    return (means[False] - means[True]).to_numpy()


def test_wrong_samples_that_cost_more_give_positive_d_equal_to_a_hand_computation():
    traces = _traces(np.random.default_rng(0))
    table = wrong_right_table(item_contrasts(traces, _items(traces)), resampling=RESAMPLING)
    assert list(table.columns) == list(WRONG_RIGHT_COLUMNS)
    table = table.set_index("task")
    assert list(table.index) == ["a", "b", "ALL"]
    for task in ("a", "b", None):
        row = table.loc[task or "ALL"]
        d = _hand_differences(traces, task)
        assert row["status"] == "ok" and row["n_items"] == len(d)
        assert row["mean_diff"] == pytest.approx(d.mean(), abs=1e-9)
        assert row["cohens_d"] == pytest.approx(d.mean() / d.std(ddof=1), abs=1e-9)
        assert row["mean_diff"] > 0 and row["cohens_d"] > 1.0
        assert row["mean_diff_ci_low"] > 0 and row["d_ci_low"] > 0
        assert row["mean_diff_ci_low"] < row["mean_diff"] < row["mean_diff_ci_high"]
        assert row["d_ci_low"] < row["cohens_d"] < row["d_ci_high"]
        assert row["p_value"] == pytest.approx(1 / 2001)  # no sign pattern is as extreme
        assert row["difficulty_norm"] == "none"
    t = traces[traces["task"] == "a"]
    assert table.loc["a", "mean_cost_wrong"] == pytest.approx(
        t[~t["correct"]].groupby("item_id")["n_reasoning_tokens"].mean().mean(), abs=1e-9
    )
    assert table.loc["a", "n_samples_wrong"] == int((~t["correct"]).sum())


def test_the_sign_is_kept_when_right_samples_cost_more():
    traces = _traces(np.random.default_rng(1), extra=-60.0)
    table = wrong_right_table(item_contrasts(traces, _items(traces)), resampling=RESAMPLING)
    row = table.set_index("task").loc["ALL"]
    assert row["mean_diff"] < 0 and row["cohens_d"] < -1.0 and row["mean_diff_ci_high"] < 0
    assert row["p_value"] < 0.01


def test_exact_sign_flip_p_equals_enumeration_and_null_is_not_significant():
    traces = _traces(np.random.default_rng(2), n_items=(7, 6), extra=0.0)
    resampling = Resampling(seed=0, n_boot=500, n_perm=500)  # 2^7 = 128 patterns fit
    table = wrong_right_table(item_contrasts(traces, _items(traces)), resampling=resampling)
    row = table.set_index("task").loc["a"]
    d = _hand_differences(traces, "a")
    flips = np.array(list(itertools.product([-1.0, 1.0], repeat=len(d))))
    expected = np.mean(np.abs(flips @ d) >= abs(d.sum()) - 1e-9)
    assert row["p_exact"] and row["p_value"] == pytest.approx(expected, abs=1e-12)
    assert row["p_value"] > 0.05  # no planted effect


def test_one_sample_per_item_writes_no_rows_and_is_counted():
    rng = np.random.default_rng(3)
    multi = _traces(rng, model="multi")
    single = _traces(rng, model="single", n_samples=2)
    single = single[single["sample"] == 0]
    traces = pd.concat([multi, single], ignore_index=True)
    ledger = Exclusions()
    table = wrong_right_table(
        item_contrasts(traces, _items(traces)), resampling=RESAMPLING, ledger=ledger
    )
    assert set(table["model"]) == {"multi"}
    assert ledger.counts[("wrong_right", "single", "", ONE_SAMPLE)] == 50


def test_items_without_both_outcomes_and_unparsed_samples_are_counted():
    traces = _traces(np.random.default_rng(4), n_items=(12, 8))
    a0, a1, a2 = (traces["item_id"] == f"a{i}" for i in range(3))
    traces.loc[a0, "correct"] = True  # all correct
    traces.loc[a1, "correct"] = False  # all wrong
    traces.loc[a2, "parsed"] = False  # no answer at all
    traces.loc[(traces["item_id"] == "a3") & (traces["sample"] == 0), "parsed"] = False
    ledger = Exclusions()
    contrasts = item_contrasts(traces, _items(traces))
    table = wrong_right_table(contrasts, resampling=RESAMPLING, ledger=ledger).set_index("task")
    counts = {r: n for (s, m, t, r), n in ledger.counts.items() if t == "a"}
    t = traces[traces["task"] == "a"]
    answered = t[t["parsed"]].groupby("item_id")["correct"].agg(["min", "max"])
    expected = {
        "no_answered_sample": 1,
        "all_answered_samples_correct": int(answered["min"].sum()),
        "all_answered_samples_wrong": int((~answered["max"]).sum()),
    }
    assert counts == expected and expected["all_answered_samples_wrong"] >= 1
    row = table.loc["a"]
    assert row["n_items"] + row["n_excluded"] == 12
    assert row["n_samples_unparsed"] == 4 + 1
    d = _hand_differences(traces, "a")
    assert row["n_items"] == len(d) and row["mean_diff"] == pytest.approx(d.mean(), abs=1e-9)
    assert table.loc["ALL", "n_excluded"] == row["n_excluded"] + table.loc["b", "n_excluded"]


def test_too_few_contrast_items_keep_a_row_without_statistics():
    traces = _traces(np.random.default_rng(5), n_items=(12, 3))
    ledger = Exclusions()
    contrasts = item_contrasts(traces, _items(traces))
    table = wrong_right_table(contrasts, resampling=RESAMPLING, ledger=ledger, min_items=5)
    row = table.set_index("task").loc["b"]
    assert row["status"] == "too_few_items" and row["n_items"] == 0 and np.isnan(row["cohens_d"])
    assert ledger.counts[("wrong_right", "m", "b", "too_few_items")] == 3
    assert table.set_index("task").loc["ALL", "n_items"] == 12


def _write(tmp: Path, traces: pd.DataFrame) -> None:
    items = _items(traces).assign(prompt="p", answer="yes", human_acc=0.7)
    items.to_csv(tmp / "items.csv", index=False)
    lines = traces.drop(columns=["task", "parsed"]).assign(reasoning="so", answer="yes")
    (tmp / "traces.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in lines.to_dict(orient="records"))
    )


def test_score_writes_wrong_right_csv_and_counts_one_sample_models(tmp_path):
    rng = np.random.default_rng(6)
    single = _traces(rng, model="single", n_samples=2)
    traces = pd.concat([_traces(rng, model="multi"), single[single["sample"] == 0]])
    _write(tmp_path, traces)
    argv = ["behaviour", "--items", str(tmp_path / "items.csv")]
    argv += ["--traces", str(tmp_path / "traces.jsonl"), "--out", str(tmp_path / "out")]
    assert run([*argv, "--n-boot", "200", "--n-perm", "200", "--no-figures"]) == 0
    table = pd.read_csv(tmp_path / "out" / "wrong_right.csv")
    assert list(table.columns) == list(WRONG_RIGHT_COLUMNS)
    assert set(table["model"]) == {"multi"} and list(table["task"]) == ["a", "b", "ALL"]
    d = _hand_differences(traces[traces["model"] == "multi"])
    assert table.iloc[-1]["mean_diff"] == pytest.approx(d.mean(), abs=1e-9)
    excl = pd.read_csv(tmp_path / "out" / "exclusions.csv", keep_default_na=False)
    hit = excl[(excl["stage"] == "wrong_right") & (excl["reason"] == ONE_SAMPLE)]
    assert list(hit["model"]) == ["single"] and list(hit["n"]) == [50]
    assert "## Cost when wrong vs when right" in (tmp_path / "out" / "report.md").read_text()
