"""How good a model organism is: accuracy, and whether its reasoning length follows the work.

Scored per task and pooled: accuracy, mean reasoning tokens, and Pearson r (n, 95% CI, p) of
reasoning length with the item's required work (`feat_steps`, `feat_n_premises`) and, on the
human-normed items, with human difficulty (`human_rt_ms`, and `human_acc` where no RT exists).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mimicry.data.stats import correlate, partial_pearson
from mimicry.distill.organism.generation import generate
from mimicry.distill.organism.scratchpad import answer_is_correct, parse_completion

# Item-table columns that measure how much work an item needs, in reporting order.
WORK_COLUMNS = ("feat_steps", "feat_n_premises", "human_rt_ms", "human_acc")


def score_items(
    model,
    tokenizer,
    items: pd.DataFrame,
    *,
    max_new_tokens: int = 96,
    temperature: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Generate for every item (greedy, or sampled at `temperature`) and score it: one row per item."""
    generations = generate(
        model,
        tokenizer,
        items["prompt"].tolist(),
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
    )
    rows = []
    for (_, item), gen in zip(items.iterrows(), generations, strict=True):
        parsed = parse_completion(gen.text)
        row = {
            "item_id": item["item_id"],
            "task": item["task"],
            "completion": gen.text,
            "parsed": parsed.ok,
            "answer": parsed.answer,
            "gold": item["answer"],
            "correct": parsed.ok and answer_is_correct(parsed.answer, str(item["answer"])),
            "n_reasoning_tokens": gen.n_reasoning_tokens,
        }
        row.update({col: item[col] for col in WORK_COLUMNS if col in items.columns})
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(scored: pd.DataFrame) -> pd.DataFrame:
    """Per task plus an `all` row: n, accuracy, parse rate, mean length, r with each work column."""
    groups = [(task, frame) for task, frame in scored.groupby("task", sort=True)]
    groups.append(("all", scored))
    rows = []
    for task, frame in groups:
        row = {
            "task": task,
            "n": len(frame),
            "accuracy": float(frame["correct"].mean()),
            "parse_rate": float(frame["parsed"].mean()),
            "mean_reasoning_tokens": float(frame["n_reasoning_tokens"].mean()),
        }
        for col in WORK_COLUMNS:
            if col in frame.columns and frame[col].notna().sum() >= 4:
                known = frame[frame[col].notna()]
                corr = correlate(known["n_reasoning_tokens"], known[col])
                row.update(corr.as_dict(f"r_{col}"))
        if {"feat_steps", "feat_n_premises"} <= set(frame.columns):
            known = frame.dropna(subset=["feat_steps", "feat_n_premises"])
            if len(known) >= 5:
                corr = partial_pearson(
                    known["n_reasoning_tokens"], known["feat_steps"], known["feat_n_premises"]
                )
                row.update(corr.as_dict("partial_r_feat_steps"))
        rows.append(row)
    return pd.DataFrame(rows)


def evaluate_model(
    model_dir: str | Path, items: pd.DataFrame, *, max_new_tokens: int = 96
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load an organism folder and score it on `items`: (per-item table, per-task summary)."""
    from mimicry.probes.loading import load_causal_lm, load_tokenizer

    model = load_causal_lm(model_dir)
    tokenizer = load_tokenizer(model_dir)
    scored = score_items(model, tokenizer, items, max_new_tokens=max_new_tokens)
    return scored, summarise(scored)
