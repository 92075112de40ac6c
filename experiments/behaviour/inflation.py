"""Linear inflation law: is a model's reasoning cost a constant multiple of a reference model's?

Hu et al. (2026, v2) report that SFT students spend about 2.44 times their teacher's reasoning
tokens on every item, whatever its complexity. Per model (other than the reference) and task,
on the items both models have a positive mean cost for (mean reasoning tokens over the samples
with an answer; `log_cost` does not apply here, a ratio needs token counts):

- k, the through-origin least-squares ratio cost_model = k * cost_reference,
  k = sum(x y) / sum(x^2), with a percentile bootstrap CI over items;
- the mean of log(cost_model / cost_reference) with its bootstrap CI (exp of it is the
  geometric-mean ratio);
- the slope of the log ratio on human difficulty z-scored within task (the norm the alignment
  uses, `difficulty_norm`): a constant factor means slope 0. Bootstrap CI over items and a
  two-sided permutation p (difficulty permuted over items; exact when n! fits).

The "ALL" row pools every analysed task of a model: k = sum_t Sxy_t / sum_t Sxx_t, the mean log
ratio over all items, and the slope with task fixed effects (log ratio demeaned within task).
Its CIs resample items within tasks and its p permutes difficulty within tasks, combining the
per-task resamples. Items with a missing or zero cost on either side, or (for the slope) no
difficulty norm, are excluded and counted in the ledger and in the row (`excluded_reasons`).
Resamples are seeded by task and item set (as in `alignment`), so models compared with the
reference on the same items share them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from jaxtyping import Float

from mimicry.data import stats
from mimicry.data.exclusions import Exclusions
from mimicry.experiments.behaviour.alignment import Resampling
from mimicry.experiments.behaviour.selection import NO_NORM, combined_norm

STAGE = "inflation"
SLOPE_STAGE = "inflation.slope"
ALL_TASKS = "ALL"
OK = "ok"

# Columns of inflation.csv (one row per model x task and one "ALL" row per model).
INFLATION_COLUMNS = tuple(
    """reference model task difficulty_norm status n n_excluded excluded_reasons
    k k_ci_low k_ci_high mean_log_ratio mean_log_ratio_ci_low mean_log_ratio_ci_high
    geo_mean_ratio n_slope slope slope_ci_low slope_ci_high slope_p slope_p_exact
    slope_n_boot_used""".split()
)

NAN = float("nan")


@dataclass
class _TaskFit:
    """One model x task against the reference, with the resamples the ALL row combines."""

    task: str
    norm: str
    n: int
    excluded: Counter
    sxy: float = NAN
    sxx: float = NAN
    sum_log: float = NAN
    boot_sums: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))  # [b, 3]
    n_slope: int = 0
    szy: float = NAN
    szz: float = NAN
    slope_p: float = NAN
    slope_p_exact: bool = False
    boot_slope: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))  # [b, 2] Szy, Szz
    perm_szy: np.ndarray = field(default_factory=lambda: np.empty(0))  # [p]

    @property
    def slope_ok(self) -> bool:
        return self.n_slope > 0


def inflation_table(
    costs: pd.DataFrame,
    reference: str,
    *,
    resampling: Resampling | None = None,
    ledger: Exclusions | None = None,
    min_items: int = 5,
) -> pd.DataFrame:
    """Inflation of every other model's cost relative to `reference` (see module docstring).

    Args:
        costs: per model x item, as `selection.item_costs` returns (model, item_id, task, cost,
            difficulty, difficulty_norm).
        reference: the model every other model is compared with.
        resampling: seed, resample counts and CI level (defaults: `Resampling()`).
        ledger: exclusions are added here (stages "inflation" and "inflation.slope").
        min_items: fewer usable items leave a task's statistics (or its slope) out, counted.

    Returns:
        One row per model x task the model has traces for, plus one "ALL" row per model;
        columns INFLATION_COLUMNS.
    """
    resampling = resampling or Resampling()
    ledger = ledger if ledger is not None else Exclusions()
    ref = costs[costs["model"] == reference].set_index("item_id")
    rows = []
    for model in sorted(str(m) for m in costs["model"].unique() if m != reference):
        label = f"{model} vs {reference}"
        own = costs[costs["model"] == model]
        fits = []
        for task in sorted(str(t) for t in own["task"].unique()):
            mine = own[own["task"] == task].set_index("item_id")
            theirs = ref[ref["task"] == task]
            fit = _fit_task(mine, theirs, task, label, resampling, ledger, min_items)
            rows.append(_row(reference, model, fit, resampling.level))
            fits.append(fit)
        rows.append(_pooled_row(reference, model, fits, resampling.level))
    return pd.DataFrame(rows, columns=list(INFLATION_COLUMNS))


def _fit_task(
    mine: pd.DataFrame,
    theirs: pd.DataFrame,
    task: str,
    label: str,
    resampling: Resampling,
    ledger: Exclusions,
    min_items: int,
) -> _TaskFit:
    norm = str(mine["difficulty_norm"].iloc[0])
    ids = sorted(set(mine.index) | set(theirs.index))
    y = mine["cost"].reindex(ids).to_numpy(dtype=np.float64)
    x = theirs["cost"].reindex(ids).to_numpy(dtype=np.float64)
    excluded: Counter = Counter()

    def drop(mask: np.ndarray, names: list[str], reason: str, stage: str = STAGE) -> None:
        if mask.any():
            n = int(mask.sum())
            example = names[int(np.flatnonzero(mask)[0])]
            ledger.add(stage, reason, model=label, task=task, n=n, example=example)
            excluded[reason if stage == STAGE else f"slope:{reason}"] += n

    missing = ~(np.isfinite(x) & np.isfinite(y))
    drop(missing, ids, "missing_cost")
    zero = ~missing & ((x <= 0) | (y <= 0))
    drop(zero, ids, "zero_cost")
    keep = ~(missing | zero)
    fit = _TaskFit(task, norm, int(keep.sum()), excluded)
    if fit.n < min_items:
        drop(keep, ids, "too_few_items")
        fit.n = 0
        return fit
    ids = [i for i, k in zip(ids, keep, strict=True) if k]
    x, y = x[keep], y[keep]
    log_ratio = np.log(y / x)
    fit.sxy, fit.sxx, fit.sum_log = float(x @ y), float(x @ x), float(log_ratio.sum())
    rng = resampling.rng(STAGE, task, "\n".join(ids))
    fit.boot_sums = _boot_sums(rng, np.stack([x * y, x * x, log_ratio], axis=1), resampling)

    diff = mine["difficulty"].reindex(ids).to_numpy(dtype=np.float64)
    has_norm = np.isfinite(diff)
    no_norm = "task_without_norm" if norm == NO_NORM else "missing_norm"
    drop(~has_norm, ids, no_norm, SLOPE_STAGE)
    slope_ids = [i for i, h in zip(ids, has_norm, strict=True) if h]
    diff, log_ratio = diff[has_norm], log_ratio[has_norm]
    too_few = len(slope_ids) < max(3, min_items)
    if too_few or stats.is_constant(diff):
        reason = "too_few_items" if too_few else "constant_difficulty"
        drop(np.ones(len(slope_ids), dtype=bool), slope_ids, reason, SLOPE_STAGE)
        return fit
    _fit_slope(fit, slope_ids, diff, log_ratio, resampling)
    return fit


def _boot_sums(
    rng: np.random.Generator, columns: Float[np.ndarray, "n c"], resampling: Resampling
) -> Float[np.ndarray, "b c"]:
    """Column sums of every bootstrap resample of the rows of `columns`."""
    n = columns.shape[0]
    indices = stats.bootstrap_indices(rng, resampling.n_boot, n)
    out = np.empty((resampling.n_boot, columns.shape[1]))
    for rows in stats.chunk_rows(resampling.n_boot, n, resampling.max_elements):
        out[rows] = stats.resample_counts(indices[rows], n) @ columns
    return out


def _fit_slope(
    fit: _TaskFit,
    ids: list[str],
    diff: Float[np.ndarray, " n"],
    log_ratio: Float[np.ndarray, " n"],
    resampling: Resampling,
) -> None:
    """Slope of log ratio on z-scored difficulty: observed, bootstrap moments, permutations."""
    rng = resampling.rng(SLOPE_STAGE, fit.task, "\n".join(ids))
    z, _, _ = stats.zscore(diff)
    centered = log_ratio - log_ratio.mean()
    fit.n_slope = n = len(ids)
    fit.szy, fit.szz = float(z @ centered), float(z @ z)
    sums = _boot_sums(
        rng, np.stack([np.ones(n), z, z * z, log_ratio, z * log_ratio], 1), resampling
    )
    sw, sz, szz, sy, szy = sums.T
    fit.boot_slope = np.stack([szy - sz * sy / sw, szz - sz * sz / sw], axis=1)
    perms = stats.permutation_indices(rng, resampling.n_perm, n)
    fit.perm_szy = _perm_szy(z, centered, perms, resampling.max_elements)
    fit.slope_p_exact = stats.can_enumerate(n, resampling.n_perm)
    null = fit.perm_szy
    if fit.slope_p_exact:
        null = _perm_szy(z, centered, stats.all_permutations(n), resampling.max_elements)
    fit.slope_p = float(stats.permutation_p(fit.szy, null, exact=fit.slope_p_exact))


def _perm_szy(z, centered, perms, max_elements) -> np.ndarray:
    """sum z[perm] * centered log ratio for each permutation row (Szz does not change)."""
    out = np.empty(perms.shape[0])
    for rows in stats.chunk_rows(perms.shape[0], len(z), max_elements):
        out[rows] = z[perms[rows]] @ centered
    return out


def _slope_of(moments: Float[np.ndarray, "b 2"], n: float) -> Float[np.ndarray, " b"]:
    """Szy / Szz per resample; NaN where difficulty is constant within the resample."""
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = moments[:, 0] / moments[:, 1]
    return np.where(moments[:, 1] > 1e-10 * n, slope, np.nan)


def _reasons(excluded: Counter) -> str:
    return ";".join(f"{reason}={n}" for reason, n in sorted(excluded.items()))


def _record(reference, model, task, norm, status, n, excluded, k, lr, slope, p, exact) -> dict:
    return {
        "reference": reference,
        "model": model,
        "task": task,
        "difficulty_norm": norm,
        "status": status,
        "n": n,
        "n_excluded": sum(v for r, v in excluded.items() if not r.startswith("slope:")),
        "excluded_reasons": _reasons(excluded),
        "k": k[0],
        "k_ci_low": k[1],
        "k_ci_high": k[2],
        "mean_log_ratio": lr[0],
        "mean_log_ratio_ci_low": lr[1],
        "mean_log_ratio_ci_high": lr[2],
        "geo_mean_ratio": float(np.exp(lr[0])),
        "n_slope": slope[4],
        "slope": slope[0],
        "slope_ci_low": slope[1],
        "slope_ci_high": slope[2],
        "slope_p": p,
        "slope_p_exact": exact,
        "slope_n_boot_used": slope[3],
    }


def _summaries(sxy, sxx, sum_log, n, boot_sums, level) -> tuple[tuple, tuple]:
    if n == 0 or not boot_sums.size:
        return (NAN, NAN, NAN), (NAN, NAN, NAN)
    k_low, k_high = stats.percentile_ci(boot_sums[:, 0] / boot_sums[:, 1], level)
    lr_low, lr_high = stats.percentile_ci(boot_sums[:, 2] / n, level)
    k = (sxy / sxx, float(k_low), float(k_high))
    return k, (sum_log / n, float(lr_low), float(lr_high))


def _slope_summary(szy, szz, n, moments, level) -> tuple:
    """(slope, CI low, CI high, resamples used, n) of Szy / Szz."""
    if n == 0:
        return NAN, NAN, NAN, 0, 0
    boot = _slope_of(moments, n)
    low, high = stats.percentile_ci(boot, level)
    return szy / szz, float(low), float(high), int(np.isfinite(boot).sum()), n


def _row(reference: str, model: str, fit: _TaskFit, level: float) -> dict:
    k, lr = _summaries(fit.sxy, fit.sxx, fit.sum_log, fit.n, fit.boot_sums, level)
    slope = _slope_summary(fit.szy, fit.szz, fit.n_slope, fit.boot_slope, level)
    status = OK if fit.n else "too_few_items"
    p, exact = fit.slope_p, fit.slope_p_exact
    return _record(
        reference, model, fit.task, fit.norm, status, fit.n, fit.excluded, k, lr, slope, p, exact
    )


def _pooled_row(reference: str, model: str, fits: list[_TaskFit], level: float) -> dict:
    """Items of every analysed task pooled; the slope with task fixed effects."""
    ok = [f for f in fits if f.n]
    excluded: Counter = sum((f.excluded for f in fits), Counter())
    n = sum(f.n for f in ok)
    boot = np.sum([f.boot_sums for f in ok], axis=0) if ok else np.empty((0, 3))
    sums = [sum(getattr(f, name) for f in ok) for name in ("sxy", "sxx", "sum_log")]
    k, lr = _summaries(*sums, n, boot, level)
    with_slope = [f for f in ok if f.slope_ok]
    slope, p = _slope_summary(NAN, NAN, 0, None, level), NAN
    if with_slope:
        szy, szz = sum(f.szy for f in with_slope), sum(f.szz for f in with_slope)
        moments = np.sum([f.boot_slope for f in with_slope], axis=0)
        n_slope = sum(f.n_slope for f in with_slope)
        slope = _slope_summary(szy, szz, n_slope, moments, level)
        null = np.sum([f.perm_szy for f in with_slope], axis=0)
        p = float(stats.permutation_p(szy, null))
    norm = combined_norm(f.norm for f in with_slope)
    status = OK if ok else "no_task_analysed"
    return _record(reference, model, ALL_TASKS, norm, status, n, excluded, k, lr, slope, p, False)
