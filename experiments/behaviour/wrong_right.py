"""Cost when wrong vs when right: do models spend more reasoning tokens on samples they get wrong?

Wang (2026) reports that reasoning models spend more tokens on their wrong answers (Cohen's d
1.47-3.13) where humans take longer on their correct ones. The contrast is within item, so item
difficulty cancels: per model and task, the items with at least one correct and one wrong
answered sample enter, each with the difference

    d_i = mean tokens of its wrong samples - mean tokens of its correct samples.

Samples without an answer are left out (their length is usually the generation cap) and
counted in `n_samples_unparsed`; items without both outcomes are excluded and counted by
reason. Per row: the mean of d_i with a percentile bootstrap CI over items, a two-sided
sign-flip permutation p for 'mean = 0' (exact when all 2^n sign patterns fit in the
permutation budget), and Cohen's d_z = mean(d) / sd(d) (ddof 1) with its bootstrap CI. The
"ALL" row pools a model's items over its analysed tasks (resampling and sign flips stay within
task). Cost is always raw token counts (`log_cost` does not apply), and no human difficulty norm
enters (`difficulty_norm` is "none"). A model whose items all have one sample has no
within-item contrast: it gets no rows and one exclusion entry. Resamples are seeded by task and
item set (as in `alignment`), so models with the same contrast items share them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from jaxtyping import Float

from mimicry.data import stats
from mimicry.data.exclusions import Exclusions
from mimicry.experiments.behaviour.alignment import Resampling
from mimicry.experiments.behaviour.selection import NO_NORM

STAGE = "wrong_right"
ALL_TASKS = "ALL"
OK = "ok"
ONE_SAMPLE = "one_sample_per_item_no_within_item_contrast"
# Sign patterns are enumerated (exact p) when 2^n fits in the permutation budget and n <= this.
_MAX_EXACT_ITEMS = 20

# Columns of wrong_right.csv (one row per model x task and one "ALL" row per model).
WRONG_RIGHT_COLUMNS = tuple(
    """model task difficulty_norm status n_items n_excluded n_samples_unparsed n_samples_right
    n_samples_wrong mean_cost_right mean_cost_wrong mean_diff mean_diff_ci_low mean_diff_ci_high
    p_value p_exact cohens_d d_ci_low d_ci_high n_boot_used""".split()
)

NAN = float("nan")


def item_contrasts(traces: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Per model x item: task, sample counts, and mean tokens of its correct and wrong samples.

    Args:
        traces: trace lines (model, item_id, correct, n_reasoning_tokens, and `parsed`; a frame
            without `parsed` counts every sample as answered).
        items: the item table (item_id, task).

    Returns:
        Columns model, item_id, task, n_samples, n_unparsed, n_right, n_wrong, cost_right,
        cost_wrong (NaN when the item has no such sample).
    """
    parsed = (
        traces["parsed"].to_numpy(dtype=bool)
        if "parsed" in traces.columns
        else np.ones(len(traces), dtype=bool)
    )
    correct = traces["correct"].to_numpy(dtype=bool)
    tokens = traces["n_reasoning_tokens"].to_numpy(dtype=np.float64)
    right, wrong = parsed & correct, parsed & ~correct
    frame = pd.DataFrame(
        {
            "model": traces["model"].to_numpy(),
            "item_id": traces["item_id"].to_numpy(),
            "n_samples": 1,
            "n_unparsed": (~parsed).astype(np.int64),
            "n_right": right.astype(np.int64),
            "n_wrong": wrong.astype(np.int64),
            "sum_right": np.where(right, tokens, 0.0),
            "sum_wrong": np.where(wrong, tokens, 0.0),
        }
    )
    table = frame.groupby(["model", "item_id"], sort=True).sum().reset_index()
    table["cost_right"] = table["sum_right"] / table["n_right"].where(table["n_right"] > 0)
    table["cost_wrong"] = table["sum_wrong"] / table["n_wrong"].where(table["n_wrong"] > 0)
    table = table.drop(columns=["sum_right", "sum_wrong"])
    return table.merge(items[["item_id", "task"]], on="item_id", how="left", validate="m:1")


def wrong_right_table(
    contrasts: pd.DataFrame,
    *,
    resampling: Resampling | None = None,
    ledger: Exclusions | None = None,
    min_items: int = 5,
) -> pd.DataFrame:
    """Wrong-minus-right cost per model x task and per model over all tasks.

    Args:
        contrasts: per model x item, as `item_contrasts` returns.
        resampling: seed, resample counts and CI level (defaults: `Resampling()`).
        ledger: exclusions are added here (stage "wrong_right").
        min_items: a task with fewer contrast items keeps its row without statistics.

    Returns:
        Columns WRONG_RIGHT_COLUMNS; no rows for a model with one sample per item.
    """
    resampling = resampling or Resampling()
    ledger = ledger if ledger is not None else Exclusions()
    rows = []
    for model, own in contrasts.groupby("model", sort=True):
        model = str(model)
        if int(own["n_samples"].max()) <= 1:
            example = str(own["item_id"].iloc[0])
            ledger.add(STAGE, ONE_SAMPLE, model=model, n=len(own), example=example)
            continue
        fits = []
        for task, group in own.groupby("task", sort=True):
            fit = _fit_task(model, str(task), group, resampling, ledger, min_items)
            rows.append(_row(model, str(task), fit, resampling.level))
            fits.append(fit)
        rows.append(_pooled_row(model, fits, resampling.level))
    return pd.DataFrame(rows, columns=list(WRONG_RIGHT_COLUMNS))


def _fit_task(model, task, group, resampling, ledger, min_items) -> dict:
    """The observed differences and their bootstrap sums and sign-flip null for one task."""
    ids = group["item_id"].astype(str).to_numpy()
    answered = (group["n_right"] + group["n_wrong"]).to_numpy() > 0
    has_right = group["n_right"].to_numpy() > 0
    has_wrong = group["n_wrong"].to_numpy() > 0
    reasons = (
        ("no_answered_sample", ~answered),
        ("all_answered_samples_correct", answered & ~has_wrong),
        ("all_answered_samples_wrong", answered & ~has_right),
    )
    n_excluded = 0
    for reason, mask in reasons:
        if mask.any():
            n = int(mask.sum())
            ledger.add(STAGE, reason, model=model, task=task, n=n, example=str(ids[mask][0]))
            n_excluded += n
    keep = has_right & has_wrong
    rows = group[keep]
    fit = {
        "n": int(keep.sum()),
        "n_excluded": n_excluded,
        "n_unparsed": int(group["n_unparsed"].sum()),
        "n_right": int(rows["n_right"].sum()),
        "n_wrong": int(rows["n_wrong"].sum()),
        "cost_right": rows["cost_right"].to_numpy(dtype=np.float64),
        "cost_wrong": rows["cost_wrong"].to_numpy(dtype=np.float64),
    }
    if fit["n"] < min_items:
        if fit["n"]:
            ledger.add(
                STAGE,
                "too_few_items",
                model=model,
                task=task,
                n=fit["n"],
                example=str(ids[keep][0]),
            )
        fit |= {"n": 0, "n_excluded": n_excluded + fit["n"], "n_right": 0, "n_wrong": 0}
        fit |= {"cost_right": np.empty(0), "cost_wrong": np.empty(0)}
        return fit
    diff = fit["cost_wrong"] - fit["cost_right"]
    n = len(diff)
    rng = resampling.rng(STAGE, task, "\n".join(ids[keep]))
    indices = stats.bootstrap_indices(rng, resampling.n_boot, n)
    boot = np.empty((resampling.n_boot, 2))
    for chunk in stats.chunk_rows(resampling.n_boot, n, resampling.max_elements):
        boot[chunk] = stats.resample_counts(indices[chunk], n) @ np.stack([diff, diff**2], 1)
    null = np.empty(resampling.n_perm)  # sum of sign-flipped differences, drawn in chunks
    for chunk in stats.chunk_rows(resampling.n_perm, n, resampling.max_elements):
        flips = rng.choice(np.array([-1.0, 1.0]), size=(chunk.stop - chunk.start, n))
        null[chunk] = flips @ diff
    fit |= {"diff": diff, "boot": boot, "null": null}
    fit["exact"] = n <= _MAX_EXACT_ITEMS and 2**n <= resampling.n_perm
    null = _all_sign_flips(n) @ diff if fit["exact"] else fit["null"]
    fit["p"] = float(stats.permutation_p(diff.sum(), null, exact=fit["exact"]))
    return fit


def _all_sign_flips(n: int) -> Float[np.ndarray, "patterns n"]:
    """Every +-1 sign pattern of n items (2^n rows)."""
    bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    return 2.0 * bits - 1.0


def _effects(sum_d: float, sum_d2: float, n: int) -> tuple[float, float]:
    """(mean, Cohen's d_z) from the sums of d and d^2 over n items; d_z NaN when sd is 0."""
    mean = sum_d / n
    var = (sum_d2 - sum_d * mean) / (n - 1) if n > 1 else 0.0
    scale = max(1.0, abs(mean)) ** 2
    return mean, (mean / np.sqrt(var) if var > 1e-12 * scale else NAN)


def _summarise(sum_d, sum_d2, n, boot, level) -> dict:
    mean, d = _effects(sum_d, sum_d2, n)
    boot_mean = boot[:, 0] / n
    boot_var = (boot[:, 1] - boot[:, 0] * boot_mean) / (n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot_d = boot_mean / np.sqrt(boot_var)
    boot_d = np.where(boot_var > 1e-12 * np.maximum(1.0, np.abs(boot_mean)) ** 2, boot_d, np.nan)
    m_low, m_high = stats.percentile_ci(boot_mean, level)
    d_low, d_high = stats.percentile_ci(boot_d, level)
    return {
        "mean_diff": mean,
        "mean_diff_ci_low": float(m_low),
        "mean_diff_ci_high": float(m_high),
        "cohens_d": d,
        "d_ci_low": float(d_low),
        "d_ci_high": float(d_high),
        "n_boot_used": int(np.isfinite(boot_d).sum()),
    }


def _record(model, task, status, fits, statistics=None, p=NAN, exact=False) -> dict:
    """A row from the task fits it covers (those without analysed items add only counts)."""
    right = np.concatenate([f["cost_right"] for f in fits])
    wrong = np.concatenate([f["cost_wrong"] for f in fits])
    empty = {"mean_diff": NAN, "mean_diff_ci_low": NAN, "mean_diff_ci_high": NAN}
    empty |= {"cohens_d": NAN, "d_ci_low": NAN, "d_ci_high": NAN, "n_boot_used": 0}
    return {
        "model": model,
        "task": task,
        "difficulty_norm": NO_NORM,
        "status": status,
        "n_items": len(right),
        "n_excluded": sum(f["n_excluded"] for f in fits),
        "n_samples_unparsed": sum(f["n_unparsed"] for f in fits),
        "n_samples_right": sum(f["n_right"] for f in fits),
        "n_samples_wrong": sum(f["n_wrong"] for f in fits),
        "mean_cost_right": float(right.mean()) if len(right) else NAN,
        "mean_cost_wrong": float(wrong.mean()) if len(wrong) else NAN,
        **(statistics or empty),
        "p_value": p,
        "p_exact": exact,
    }


def _row(model: str, task: str, fit: dict, level: float) -> dict:
    if not fit["n"]:
        return _record(model, task, "too_few_items", [fit])
    d = fit["diff"]
    statistics = _summarise(float(d.sum()), float(d @ d), fit["n"], fit["boot"], level)
    return _record(model, task, OK, [fit], statistics, fit["p"], fit["exact"])


def _pooled_row(model: str, fits: list[dict], level: float) -> dict:
    """Items of every analysed task pooled (bootstrap and sign flips within task)."""
    ok = [f for f in fits if f["n"]]
    if not ok:
        return _record(model, ALL_TASKS, "no_task_analysed", fits)
    d = np.concatenate([f["diff"] for f in ok])
    boot = np.sum([f["boot"] for f in ok], axis=0)
    statistics = _summarise(float(d.sum()), float(d @ d), len(d), boot, level)
    p = float(stats.permutation_p(d.sum(), np.sum([f["null"] for f in ok], axis=0)))
    return _record(model, ALL_TASKS, OK, fits, statistics, p)
