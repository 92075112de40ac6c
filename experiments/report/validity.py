"""The validity gate: which models did their task well enough to be interpreted at all.

A cost-difficulty correlation, a probe curve or a steering effect means something only for a model
shown to do its task. Per model and per task this module measures accuracy with a Wilson 95% CI,
parse rate, closed-think rate and mean reasoning tokens, against the task's chance level, and
applies one stated rule:

    interpretable  <=>  parse rate >= MIN_PARSE_RATE  and  Wilson lower bound of accuracy > chance

Chance is the majority-answer rate of the task's gold answers (what a model that always gives
the commonest answer scores: 0.5 for balanced yes/no, 1/8 for eight balanced directions), so it is
defined for any user task. A model's chance is the item-weighted mean over the tasks it answered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mimicry.data.stats import wilson_ci

MIN_PARSE_RATE = 0.9
RULE = (
    f"interpretable when parse rate >= {MIN_PARSE_RATE} and the lower bound of the accuracy's "
    "Wilson 95% CI is above chance (the majority-answer rate of the task's gold answers)"
)
# parse errors that mean the think block never closed (the model kept reasoning or never opened)
UNCLOSED = {"unclosed_reasoning", "no_reasoning_tags"}


@dataclass(frozen=True)
class Verdict:
    """Whether a model may be interpreted, and why (one line)."""

    model: str
    interpretable: bool
    reason: str


def chance_levels(items: pd.DataFrame) -> pd.Series:
    """Per task, the majority-answer rate of its gold answers (normalised like the scorer)."""
    from mimicry.data.reasoning import normalise_answer

    answers = items.assign(_gold=items["answer"].astype(str).map(normalise_answer))
    return answers.groupby("task")["_gold"].agg(
        lambda g: float(g.value_counts(normalize=True).iloc[0])
    )


def _row(model: str, task: str, frame: pd.DataFrame, chance: float) -> dict:
    n = len(frame)
    errors = frame["parse_error"].fillna("").astype(str) if "parse_error" in frame else None
    parsed = (errors == "") if errors is not None else pd.Series(True, index=frame.index)
    closed = ~errors.isin(UNCLOSED) if errors is not None else parsed
    correct = int(frame["correct"].astype(bool).sum())
    low, high = wilson_ci(correct, n)
    return {
        "model": model,
        "task": task,
        "n": n,
        "accuracy": correct / n if n else float("nan"),
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "chance": chance,
        "parse_rate": float(parsed.mean()) if n else float("nan"),
        "closed_think_rate": float(closed.mean()) if n else float("nan"),
        "mean_reasoning_tokens": float(frame["n_reasoning_tokens"].mean()) if n else float("nan"),
    }


def validity_table(traces: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Per model x task plus an `all` row per model: accuracy [Wilson CI], chance, parse rate,
    closed-think rate, mean reasoning tokens, and (on `all` rows) the verdict and its reason.

    `traces`: every trace line of the run (columns model, item_id, task, correct,
    n_reasoning_tokens, parse_error); `items`: the run's item table (task, answer).
    """
    chance = chance_levels(items)
    if "task" not in traces:
        tasks = items.set_index(items["item_id"].astype(str))["task"]
        traces = traces.assign(task=traces["item_id"].astype(str).map(tasks))
    rows = []
    for model, frame in traces.groupby("model", sort=False):
        for task, part in frame.groupby("task", sort=True):
            rows.append(_row(str(model), str(task), part, float(chance.get(task, np.nan))))
        per_task = frame.groupby("task").size()
        weights = per_task / per_task.sum()
        pooled = float(sum(weights[t] * chance.get(t, np.nan) for t in per_task.index))
        overall = _row(str(model), "all", frame, pooled)
        verdict = judge(overall)
        overall.update(interpretable=verdict.interpretable, reason=verdict.reason)
        rows.append(overall)
    return pd.DataFrame(rows)


def judge(row: dict) -> Verdict:
    """Apply the rule to one model's pooled row."""
    model = row["model"]
    if not row["n"]:
        return Verdict(model, False, "no traces")
    problems = []
    if not row["parse_rate"] >= MIN_PARSE_RATE:
        problems.append(f"parse rate {row['parse_rate']:.2f} < {MIN_PARSE_RATE}")
    if not row["accuracy_ci_low"] > row["chance"]:
        problems.append(
            f"accuracy {row['accuracy']:.2f} [{row['accuracy_ci_low']:.2f}, "
            f"{row['accuracy_ci_high']:.2f}] not above chance {row['chance']:.2f}"
        )
    if problems:
        return Verdict(model, False, "; ".join(problems))
    return Verdict(
        model,
        True,
        f"accuracy {row['accuracy']:.2f} [{row['accuracy_ci_low']:.2f}, "
        f"{row['accuracy_ci_high']:.2f}] > chance {row['chance']:.2f}; parse rate "
        f"{row['parse_rate']:.2f}",
    )


def verdicts(table: pd.DataFrame) -> dict[str, Verdict]:
    """Model -> verdict, from the `all` rows of a validity table."""
    overall = table[table["task"] == "all"]
    return {
        str(r["model"]): Verdict(str(r["model"]), bool(r["interpretable"]), str(r["reason"]))
        for r in overall.to_dict("records")
    }
