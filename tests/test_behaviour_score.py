"""`mimicry behaviour` end to end: tables equal independent computations, exclusions counted,
seeded determinism, the paired transfer bootstrap, token counting, and one test per bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from mimicry.experiments.cli import run

RUN_OPTS = ["--n-boot", "300", "--n-perm", "300", "--no-figures"]


def _items(tmp: Path, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(12):  # RT-normed task; item rel11 has no RT
        rt = "" if i == 11 else float(rng.uniform(600, 4000))
        rows.append(("rel", f"rel{i}", rt, float(rng.uniform(0.4, 1.0))))
    for i in range(8):  # accuracy-only task
        rows.append(("syl", f"syl{i}", "", float(rng.uniform(0.2, 0.95))))
    for i in range(3):  # too few items
        rows.append(("tiny", f"tiny{i}", float(rng.uniform(600, 4000)), 0.9))
    frame = pd.DataFrame(rows, columns=["task", "item_id", "human_rt_ms", "human_acc"])
    frame["prompt"] = "Is A left of C ?"
    frame["answer"] = "yes"
    frame.to_csv(tmp / "items.csv", index=False)
    return frame


def _traces(tmp: Path, items: pd.DataFrame, *, seed: int = 1, with_tokens=True) -> list[dict]:
    rng = np.random.default_rng(seed)
    slopes = {"teacher": 0.06, "base": 0.03, "student": 0.01}
    rows = []
    for model, slope in slopes.items():
        for item in items.itertuples():
            rt = item.human_rt_ms if isinstance(item.human_rt_ms, float) else 2000.0
            acc_driver = item.human_acc if item.human_acc == item.human_acc else 0.5
            for sample in range(3):
                k = int(max(1, 20 + slope * rt + rng.normal(0, 15)))
                row = {
                    "item_id": item.item_id,
                    "model": model,
                    "sample": sample,
                    "reasoning": " ".join(["so"] * k),
                    "answer": "" if rng.random() < 0.08 else "yes",
                    "correct": bool(rng.random() < acc_driver),
                }
                if with_tokens:
                    row["n_reasoning_tokens"] = k
                rows.append(row)
    with (tmp / "traces.jsonl").open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return rows


@pytest.fixture
def study(tmp_path):
    items = _items(tmp_path)
    rows = _traces(tmp_path, items)
    return tmp_path, items, pd.DataFrame(rows)


def _per_item(traces: pd.DataFrame, model: str, log=False) -> pd.DataFrame:
    """Independent per-item aggregation for the checks."""
    t = traces[traces["model"] == model].copy()
    t["parsed"] = t["answer"].str.strip() != ""
    t["value"] = np.log1p(t["n_reasoning_tokens"]) if log else t["n_reasoning_tokens"]
    cost = t[t["parsed"]].groupby("item_id")["value"].mean()
    acc = t.groupby("item_id")["correct"].mean()
    return pd.DataFrame({"cost": cost, "accuracy": acc})


def _behaviour(tmp, *extra):
    argv = ["behaviour", "--items", str(tmp / "items.csv"), "--traces", str(tmp / "traces.jsonl")]
    return run([*argv, "--out", str(tmp / "out"), *RUN_OPTS, *extra])


def test_cli_tables_match_independent_computation(study):
    tmp, items, traces = study
    assert _behaviour(tmp, "--pair", "student=base", "--difficulty", "rt") == 0
    out = tmp / "out"
    for name in ("alignment.csv", "summary.csv", "transfer.csv", "exclusions.csv", "report.md"):
        assert (out / name).is_file(), name
    align = pd.read_csv(out / "alignment.csv")
    contract = (
        "model task n mean_cost pearson_r r_ci_low r_ci_high p_value spearman_rho spearman_ci_low "
        "spearman_ci_high spearman_p accuracy n_excluded difficulty_norm"
    ).split()
    assert set(contract) <= set(align.columns)
    assert set(align["difficulty_norm"]) == {"rt"}
    rel_items = items[(items["task"] == "rel") & items["human_rt_ms"].astype(str).ne("")]
    rt = pd.to_numeric(rel_items.set_index("item_id")["human_rt_ms"])
    for model in ("teacher", "base", "student"):
        per = _per_item(traces, model).loc[rt.index]
        row = align[(align["model"] == model) & (align["task"] == "rel")].iloc[0]
        assert row["status"] == "ok" and row["n"] == 11 and row["n_excluded"] == 1
        assert row["pearson_r"] == pytest.approx(sps.pearsonr(per["cost"], rt)[0], abs=1e-9)
        assert row["spearman_rho"] == pytest.approx(sps.spearmanr(per["cost"], rt)[0], abs=1e-9)
        assert row["accuracy"] == pytest.approx(per["accuracy"].mean(), abs=1e-12)
        assert row["mean_cost"] == pytest.approx(per["cost"].mean(), abs=1e-9)
        assert row["r_ci_low"] < row["pearson_r"] < row["r_ci_high"]
        assert 1 / 301 <= row["p_value"] <= 1
    teacher = align[(align["model"] == "teacher")].set_index("task")
    assert teacher.loc["syl", "status"] == "task_without_rt_norm"
    assert teacher.loc["tiny", "status"] == "too_few_items"
    assert teacher.loc["rel", "p_value"] < 0.05

    excl = pd.read_csv(out / "exclusions.csv", keep_default_na=False)
    reasons = {(r.stage, r.model, r.task, r.reason): r.n for r in excl.itertuples()}
    assert reasons[("behaviour", "teacher", "rel", "missing_norm")] == 1
    assert reasons[("behaviour", "teacher", "syl", "task_without_rt_norm")] == 8
    assert reasons[("behaviour", "teacher", "tiny", "too_few_items")] == 3
    n_empty = int((traces[traces["model"] == "teacher"]["answer"] == "").sum())
    assert reasons[("traces", "teacher", "", "empty_answer")] == n_empty > 0

    summary = pd.read_csv(out / "summary.csv").set_index("model")
    assert summary.loc["teacher", "n_tasks"] == 1 and summary.loc["teacher", "n_items"] == 11
    # One task: r-bar and pooled r are that task's r.
    r_teacher = teacher.loc["rel", "pearson_r"]
    assert summary.loc["teacher", "r_bar"] == pytest.approx(r_teacher, abs=1e-9)
    assert summary.loc["teacher", "pooled_r"] == pytest.approx(r_teacher, abs=1e-9)

    transfer = pd.read_csv(out / "transfer.csv")
    assert list(transfer["task"]) == ["rel", "ALL"]
    assert list(transfer["difficulty_norm"]) == ["rt", "rt"]
    assert set(summary["difficulty_norm"]) == {"rt"}
    rel = transfer.iloc[0]
    student_r = align[(align["model"] == "student") & (align["task"] == "rel")]["pearson_r"].item()
    base_r = align[(align["model"] == "base") & (align["task"] == "rel")]["pearson_r"].item()
    assert rel["delta_r"] == pytest.approx(student_r - base_r, abs=1e-9)
    assert rel["delta_r_ci_low"] <= rel["delta_r"] <= rel["delta_r_ci_high"]
    report = (out / "report.md").read_text()
    assert "r-bar" in report and "task_without_rt_norm" in report


def test_correct_only_cost_uses_correct_samples(study):
    tmp, items, traces = study
    assert _behaviour(tmp, "--figures") == 0
    pngs = sorted(p.name for p in (tmp / "out" / "figures").iterdir())
    # difficulty auto (the default): rel is scored on RT, the accuracy-only syl on error rate.
    models = ("base", "student", "teacher")
    assert pngs == [f"scatter_{m}__{t}.png" for m in models for t in ("rel", "syl")]
    assert all((tmp / "out" / "figures" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert "](figures/scatter_base__rel.png)" in (tmp / "out" / "report.md").read_text()
    align = pd.read_csv(tmp / "out" / "alignment.csv")
    row = align[(align["model"] == "base") & (align["task"] == "rel")].iloc[0]
    t = traces[(traces["model"] == "base") & traces["correct"] & (traces["answer"] != "")]
    cost = t.groupby("item_id")["n_reasoning_tokens"].mean()
    rel = items[(items["task"] == "rel") & (items["item_id"] != "rel11")].set_index("item_id")
    shared = [i for i in rel.index if i in cost.index]
    assert row["correct_only_n"] == len(shared)
    expected = sps.pearsonr(cost.loc[shared], pd.to_numeric(rel.loc[shared, "human_rt_ms"]))[0]
    assert row["correct_only_r"] == pytest.approx(expected, abs=1e-9)


def test_a_folder_of_trace_files_reads_like_the_files(study):
    from mimicry.experiments.behaviour import score

    tmp, _, traces = study
    folder = tmp / "traces"
    folder.mkdir()
    for model, rows in traces.groupby("model"):
        rows.to_json(folder / f"{model}.jsonl", orient="records", lines=True)
    kw = dict(seed=1, n_boot=50, n_perm=50, figures=False)
    from_files = score(tmp / "items.csv", tmp / "traces.jsonl", tmp / "a", **kw)
    from_folder = score(tmp / "items.csv", [folder], tmp / "b", **kw)
    pd.testing.assert_frame_equal(from_files.alignment, from_folder.alignment)


def test_seeded_runs_are_identical_and_seeds_differ(study):
    tmp, _, _ = study
    assert _behaviour(tmp, "--seed", "3") == 0
    first = (tmp / "out" / "alignment.csv").read_text()
    assert _behaviour(tmp, "--seed", "3") == 0
    assert (tmp / "out" / "alignment.csv").read_text() == first
    assert _behaviour(tmp, "--seed", "4") == 0
    assert (tmp / "out" / "alignment.csv").read_text() != first


def test_error_difficulty_and_log_cost(study):
    tmp, items, traces = study
    assert _behaviour(tmp, "--difficulty", "error", "--log-cost", "--min-items", "3") == 0
    align = pd.read_csv(tmp / "out" / "alignment.csv").set_index(["model", "task"])
    assert align.loc[("teacher", "syl"), "status"] == "ok"
    assert align.loc[("teacher", "tiny"), "status"] == "constant_difficulty"
    syl = items[items["task"] == "syl"].set_index("item_id")
    per = _per_item(traces, "teacher", log=True).loc[syl.index]
    expected = sps.pearsonr(per["cost"], 1.0 - syl["human_acc"])[0]
    assert align.loc[("teacher", "syl"), "pearson_r"] == pytest.approx(expected, abs=1e-9)


def test_paired_transfer_ci_equals_a_loop_over_the_same_resamples(study):
    from mimicry.data import stats
    from mimicry.experiments.behaviour import score
    from mimicry.experiments.behaviour.alignment import Resampling

    tmp, items, traces = study
    result = score(
        tmp / "items.csv",
        tmp / "traces.jsonl",
        tmp / "out",
        pairs=["student=base"],
        seed=5,
        n_boot=400,
        n_perm=50,
        figures=False,
    )
    row = result.transfer[result.transfer["task"] == "rel"].iloc[0]
    rel = items[(items["task"] == "rel") & (items["item_id"] != "rel11")]
    ids = list(rel["item_id"])
    rt = pd.to_numeric(rel["human_rt_ms"]).to_numpy()
    s, b = (_per_item(traces, m).loc[ids] for m in ("student", "base"))
    rng = Resampling(seed=5).rng("transfer", "rel", "\n".join(ids))
    indices = stats.bootstrap_indices(rng, 400, len(ids))
    sc, bc, sa, ba = (v.to_numpy() for v in (s["cost"], b["cost"], s["accuracy"], b["accuracy"]))
    d_r = [sps.pearsonr(sc[i], rt[i])[0] - sps.pearsonr(bc[i], rt[i])[0] for i in indices]
    d_acc = [sa[i].mean() - ba[i].mean() for i in indices]
    assert row["delta_r_ci_low"] == pytest.approx(np.percentile(d_r, 2.5), abs=1e-9)
    assert row["delta_r_ci_high"] == pytest.approx(np.percentile(d_r, 97.5), abs=1e-9)
    assert row["delta_acc_ci_low"] == pytest.approx(np.percentile(d_acc, 2.5), abs=1e-9)
    assert row["delta_acc_ci_high"] == pytest.approx(np.percentile(d_acc, 97.5), abs=1e-9)
    assert row["delta_acc"] == pytest.approx(sa.mean() - ba.mean(), abs=1e-12)
    # Pairing matters: an unpaired CI (independent resamples per model) is wider here, because
    # both models' costs follow the same item difficulty.
    other = stats.bootstrap_indices(np.random.default_rng(9), 400, len(ids))
    unpaired = [
        sps.pearsonr(sc[i], rt[i])[0] - sps.pearsonr(bc[j], rt[j])[0]
        for i, j in zip(indices, other, strict=True)
    ]
    assert np.ptp(np.percentile(unpaired, [2.5, 97.5])) > np.ptp(np.percentile(d_r, [2.5, 97.5]))


def test_cooks_outliers_are_counted(study):
    tmp, items, traces = study
    traces = traces.copy()
    mask = (traces["model"] == "teacher") & (traces["item_id"] == "rel0")
    traces.loc[mask, "n_reasoning_tokens"] = 5000
    with (tmp / "traces.jsonl").open("w") as handle:
        for row in traces.to_dict(orient="records"):
            handle.write(json.dumps(row) + "\n")
    assert _behaviour(tmp, "--outliers", "cooks") == 0
    excl = pd.read_csv(tmp / "out" / "exclusions.csv", keep_default_na=False)
    hit = excl[(excl["reason"] == "cooks_outlier") & (excl["model"] == "teacher")]
    assert "rel0" in set(hit["example"]) and hit["n"].sum() >= 1
    align = pd.read_csv(tmp / "out" / "alignment.csv").set_index(["model", "task"])
    assert align.loc[("teacher", "rel"), "n"] < 11


def test_tokenizer_counts_reasoning_tokens(tmp_path, tiny_model_factory):
    items = _items(tmp_path)
    rows = _traces(tmp_path, items, with_tokens=False)
    assert _behaviour(tmp_path) == 2  # no counts and no tokenizer
    assert not (tmp_path / "out").exists()
    model = tiny_model_factory("gpt2")
    assert _behaviour(tmp_path, "--tokenizer", str(model)) == 0
    align = pd.read_csv(tmp_path / "out" / "alignment.csv").set_index(["model", "task"])
    frame = pd.DataFrame(rows)
    frame["n_reasoning_tokens"] = frame["reasoning"].str.split().str.len()
    per = _per_item(frame, "teacher")
    rel_ids = [f"rel{i}" for i in range(11)]
    assert align.loc[("teacher", "rel"), "mean_cost"] == pytest.approx(
        per.loc[rel_ids, "cost"].mean(), abs=1e-9
    )


def _bad_items_cases():
    header = "item_id,task,prompt,answer,human_rt_ms\n"
    good = "".join(f"r{i},rel,p,yes,{1000 + 100 * i}\n" for i in range(6))
    return {
        "missing_column": ("item_id,task,prompt,human_rt_ms\nr0,rel,p,1000\n", 0, "answer"),
        "duplicate_id": (header + good + "r2,rel,p,yes,900\n", 7, "item_id"),
        "non_numeric_rt": (header + good + "r9,rel,p,yes,slow\n", 7, "human_rt_ms"),
        "negative_rt": (header + good + "r9,rel,p,yes,-40\n", 7, "human_rt_ms"),
        "empty_items": ("", None, None),
    }


def _assert_one_line_error(capsys, tmp, name, row, field):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    assert name in err
    if row is not None:
        assert f"row {row}" in err
    if field is not None:
        assert f"field '{field}'" in err
    assert "Traceback" not in err
    assert not (tmp / "out").exists()
    assert not [p for p in tmp.iterdir() if p.name.startswith(".out")]


@pytest.mark.parametrize("case", sorted(_bad_items_cases()))
def test_bad_item_table_exits_2_with_one_line(tmp_path, capsys, case):
    text, row, field = _bad_items_cases()[case]
    (tmp_path / "items.csv").write_text(text, encoding="utf-8")
    line = {"item_id": "r0", "model": "m", "sample": 0, "reasoning": "so", "answer": "yes"}
    line |= {"correct": True, "n_reasoning_tokens": 1}
    (tmp_path / "traces.jsonl").write_text(json.dumps(line) + "\n")
    assert _behaviour(tmp_path) == 2
    _assert_one_line_error(capsys, tmp_path, "items.csv", row, field)


def test_non_utf8_item_table(study, capsys):
    tmp, _, _ = study
    (tmp / "items.csv").write_bytes(
        b"item_id,task,prompt,answer,human_rt_ms\nr0,rel,caf\xe9,yes,1000\n"
    )
    assert _behaviour(tmp) == 2
    _assert_one_line_error(capsys, tmp, "items.csv", 1, None)


@pytest.mark.parametrize("case", ["unknown_item", "empty", "latin1", "negative_tokens"])
def test_bad_traces_exit_2_with_one_line(study, capsys, case):
    tmp, _, traces = study
    good = "".join(json.dumps(r) + "\n" for r in traces.head(4).to_dict(orient="records"))
    bad = traces.iloc[:1].to_dict(orient="records")[0] | {"sample": 99}
    contents = {
        "unknown_item": (good + json.dumps(bad | {"item_id": "ghost"}) + "\n").encode(),
        "empty": b"",
        "latin1": good.encode() + b'{"item_id": "rel0", "reasoning": "caf\xe9"}\n',
        "negative_tokens": (good + json.dumps(bad | {"n_reasoning_tokens": -1}) + "\n").encode(),
    }
    expected = {
        "unknown_item": (5, "item_id"),
        "empty": (None, None),
        "latin1": (5, None),
        "negative_tokens": (5, "n_reasoning_tokens"),
    }
    (tmp / "traces.jsonl").write_bytes(contents[case])
    assert _behaviour(tmp) == 2
    _assert_one_line_error(capsys, tmp, "traces.jsonl", *expected[case])


@pytest.mark.parametrize("pair", ["student=nobody", "student=student", "student"])
def test_bad_pair_is_an_input_error(study, capsys, pair):
    tmp, _, _ = study
    assert _behaviour(tmp, "--pair", pair) == 2
    _assert_one_line_error(capsys, tmp, pair.split("=")[-1], None, "pair")


def test_auto_difficulty_uses_rt_where_normed_and_error_rate_elsewhere(study):
    tmp, items, traces = study
    bare_ids = [f"bare{i}" for i in range(6)]  # a task with neither norm
    bare = pd.DataFrame({"task": "bare", "item_id": bare_ids, "human_rt_ms": "", "human_acc": ""})
    pd.concat([items, bare.assign(prompt="p", answer="yes")]).to_csv(tmp / "items.csv", index=False)
    rel0 = traces[traces["item_id"] == "rel0"]
    extra = pd.concat([rel0.assign(item_id=i) for i in bare_ids])
    with (tmp / "traces.jsonl").open("a") as handle:
        for row in extra.to_dict(orient="records"):
            handle.write(json.dumps(row) + "\n")
    assert _behaviour(tmp) == 0  # difficulty auto is the default
    out = tmp / "out"
    align = pd.read_csv(out / "alignment.csv").set_index(["model", "task"])
    rel = items[(items["task"] == "rel") & (items["item_id"] != "rel11")].set_index("item_id")
    syl = items[items["task"] == "syl"].set_index("item_id")
    pooled_cost, pooled_z = [], []
    for model in ("teacher", "base", "student"):
        per = _per_item(traces, model)
        norms = {
            t: align.loc[(model, t), "difficulty_norm"] for t in ("rel", "syl", "tiny", "bare")
        }
        assert norms == {"rel": "rt", "syl": "error", "tiny": "rt", "bare": "none"}
        assert align.loc[(model, "bare"), "status"] == "task_without_rt_or_accuracy_norm"
        rt = pd.to_numeric(rel["human_rt_ms"])
        error = 1.0 - syl["human_acc"]
        for task, difficulty in (("rel", rt), ("syl", error)):
            cost = per.loc[difficulty.index, "cost"]
            expected = sps.pearsonr(cost, difficulty)[0]
            assert align.loc[(model, task), "status"] == "ok"
            assert align.loc[(model, task), "pearson_r"] == pytest.approx(expected, abs=1e-9)
            if model == "teacher":
                pooled_cost.append(cost - cost.mean())
                pooled_z.append((difficulty - difficulty.mean()) / difficulty.std(ddof=0))
    # RT and error rates have different units: the pooled FE r z-scores difficulty per task.
    c, z = np.concatenate(pooled_cost), np.concatenate(pooled_z)
    summary = pd.read_csv(out / "summary.csv").set_index("model")
    assert summary.loc["teacher", "difficulty_norm"] == "rt+error"
    assert summary.loc["teacher", "n_tasks"] == 2
    assert summary.loc["teacher", "pooled_r"] == pytest.approx(
        c @ z / np.sqrt((c @ c) * (z @ z)), abs=1e-9
    )
    excl = pd.read_csv(out / "exclusions.csv", keep_default_na=False)
    reasons = {(r.stage, r.model, r.task, r.reason): r.n for r in excl.itertuples()}
    assert reasons[("behaviour", "teacher", "bare", "task_without_rt_or_accuracy_norm")] == 6
    settings = json.loads((out / "settings.json").read_text())
    assert settings["difficulty"] == "auto"
    assert "difficulty_norm" in (out / "report.md").read_text()


def test_unknown_difficulty_kind_is_an_input_error(study, capsys):
    tmp, _, _ = study
    assert _behaviour(tmp, "--difficulty", "median") == 2
    _assert_one_line_error(capsys, tmp, "auto", None, "difficulty")
