"""`mimicry lexicon`: lexicon phrase matching, rates per 1,000 reasoning tokens by within-task
difficulty bin, trend statistics, figure, counted exclusions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mimicry.distill.lexicon import (
    CATEGORIES,
    PhraseMatcher,
    ablation_vocabulary,
    content_words,
    lexicon_report,
    load_lexicons,
    matchers,
)
from mimicry.experiments.cli import run


def test_shipped_lexicons_load_and_match_whole_words():
    lexicons = load_lexicons()
    assert set(lexicons) == set(CATEGORIES) and all(lexicons.values())
    fillers = matchers()["fillers"]
    assert fillers.count("Wait, hmm... let me think. Okay.") == 4
    assert fillers.count("the waiter waited") == 0  # never part of a word
    assert matchers()["anthropomorphic"].count("I'm sure I think we can") == 3
    assert PhraseMatcher(["let me", "let me think"]).count("let me think let me") == 2
    assert content_words("So, maybe A is left of B because B is right of C.") == [
        "a",
        "is",
        "left",
        "of",
        "b",
        "b",
        "is",
        "right",
        "of",
        "c",
    ]
    assert "therefore" in ablation_vocabulary() and "Therefore" in ablation_vocabulary()


def make_inputs(root: Path) -> tuple[Path, list[Path]]:
    items = []
    for i in range(6):
        items.append(
            {
                "item_id": f"a{i}",
                "task": "rt_task",
                "prompt": f"p a{i}",
                "answer": "x",
                "human_rt_ms": 1000.0 * (i + 1),
                "human_acc": None,
            }
        )
        items.append(
            {
                "item_id": f"b{i}",
                "task": "acc_task",
                "prompt": f"p b{i}",
                "answer": "x",
                "human_rt_ms": None,
                "human_acc": 1.0 - 0.1 * i,
            }
        )
    items.append(
        {
            "item_id": "c0",
            "task": "no_norms",
            "prompt": "p c0",
            "answer": "x",
            "human_rt_ms": None,
            "human_acc": None,
        }
    )
    item_path = root / "items.csv"
    pd.DataFrame(items).to_csv(item_path, index=False)
    paths = []
    for model in ("verbose", "plain"):
        lines = []
        for item in items:
            level = int(item["item_id"][1])  # 0..5, harder with the index in both tasks
            words = ["A is left of B ."] * 5
            if model == "verbose":
                words += ["wait , hmm ."] * level
            reasoning = " ".join(words)
            lines.append(
                json.dumps(
                    {
                        "item_id": item["item_id"],
                        "model": model,
                        "sample": 0,
                        "reasoning": reasoning,
                        "answer": "x",
                        "correct": True,
                        "n_reasoning_tokens": len(reasoning.split()),
                    }
                )
            )
        lines.append(
            json.dumps(
                {
                    "item_id": "a0",
                    "model": model,
                    "sample": 1,
                    "reasoning": "",
                    "answer": "",
                    "correct": False,
                    "n_reasoning_tokens": 0,
                }
            )
        )
        path = root / f"{model}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return item_path, paths


def test_lexicon_rates_by_difficulty_bin(tmp_path):
    items, traces = make_inputs(tmp_path)
    out = tmp_path / "lexicon"
    summary = lexicon_report(traces, items, out, n_boot=200)
    table = pd.read_csv(out / "lexicon.csv")
    assert set(table["bin"]) == {"easy", "medium", "hard"}
    assert set(table["task"]) == {"rt_task", "acc_task", "all"}
    fillers = table[(table["category"] == "fillers") & (table["task"] == "rt_task")]
    verbose = fillers[fillers["model"] == "verbose"].set_index("bin")
    # hard bin of rt_task = items a4, a5: 2 fillers per "wait , hmm ." step, 4 and 5 steps
    hard_tokens = (30 + 4 * 4) + (30 + 5 * 4)  # 5 six-token steps + fillers
    assert verbose.at["hard", "count"] == 2 * 4 + 2 * 5
    assert verbose.at["hard", "per_1k"] == pytest.approx(1000 * 18 / hard_tokens)
    assert (
        verbose.at["easy", "per_1k"] < verbose.at["medium", "per_1k"] < verbose.at["hard", "per_1k"]
    )
    assert (fillers[fillers["model"] == "plain"]["per_1k"] == 0).all()
    row = verbose.loc["hard"]
    assert row["ci_low"] <= row["per_1k"] <= row["ci_high"] and row["n_traces"] == 2

    trend = pd.read_csv(out / "lexicon_trend.csv").set_index(["model", "category"])
    assert trend.at[("verbose", "fillers"), "spearman_rho"] > 0.8
    assert trend.at[("verbose", "fillers"), "p_value"] < 0.01
    assert trend.at[("verbose", "fillers"), "n"] == 12
    assert (out / "figures" / "lexicon.png").stat().st_size > 1000

    ledger = (out / "exclusions.csv").read_text()
    assert "lexicon,,no_norms,no_difficulty_norm,1" in ledger
    assert "lexicon,verbose,,empty_reasoning,1" in ledger
    assert summary.n_traces == 24


def test_cli_lexicon_and_no_norms_is_one_line(tmp_path, capsys):
    items, traces = make_inputs(tmp_path)
    assert (
        run(["lexicon", *map(str, traces), "--items", str(items), "--out", str(tmp_path / "lx")])
        == 0
    )
    assert "24 traces counted" in capsys.readouterr().out
    frame = pd.read_csv(items)
    frame["human_rt_ms"] = None
    frame["human_acc"] = None
    frame.to_csv(items, index=False)
    assert (
        run(["lexicon", *map(str, traces), "--items", str(items), "--out", str(tmp_path / "none")])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no traces left" in err and "\n" not in err
    assert not (tmp_path / "none").exists()
