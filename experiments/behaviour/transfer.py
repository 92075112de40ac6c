"""Negative transfer: a distilled student's alignment and accuracy minus its base model's.

Both models are compared on the items both were analysed on, and every bootstrap resample draws
the same items for both (a paired bootstrap), so item difficulty differences cancel out of the
CI. The p-value is the two-sided bootstrap p of 'difference = 0' (twice the smaller tail).
The overall row ("ALL") compares r-bar (Fisher-z mean over shared tasks) and the item-weighted
accuracy, resampling items within each task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mimicry.data import stats
from mimicry.data.exclusions import Exclusions
from mimicry.experiments.behaviour.alignment import Resampling, TaskCorrelation, correlate_task
from mimicry.experiments.behaviour.selection import OK, Selection, combined_norm

STAGE = "transfer"
ALL_TASKS = "ALL"


def transfer_rows(
    pairs: Sequence[tuple[str, str]],
    selections: Mapping[tuple[str, str], Selection],
    resampling: Resampling,
    ledger: Exclusions,
    *,
    min_items: int = 5,
) -> list[dict]:
    """One row per pair x shared task plus one overall row per pair (see module docstring)."""
    rows = []
    for student, base in pairs:
        label = f"{student}={base}"
        tasks = sorted(
            task
            for (model, task), sel in selections.items()
            if model == student
            and sel.status == OK
            and (base, task) in selections
            and selections[(base, task)].status == OK
        )
        per_task: list[tuple[str, TaskCorrelation, TaskCorrelation]] = []
        for task in tasks:
            pair = _paired_task(
                selections[(student, task)], selections[(base, task)], resampling, ledger, label
            )
            if pair is None:
                continue
            if pair[0].n < min_items:
                ledger.add(STAGE, "too_few_shared_items", model=label, task=task, n=pair[0].n)
                continue
            per_task.append((task, *pair))
            norm = selections[(student, task)].difficulty_norm
            rows.append(_row(student, base, task, *pair, level=resampling.level))
            rows[-1]["difficulty_norm"] = norm
        if per_task:
            rows.append(_overall(student, base, per_task, resampling.level))
            used = (selections[(student, task)].difficulty_norm for task, _, _ in per_task)
            rows[-1]["difficulty_norm"] = combined_norm(used)
        else:
            ledger.add(STAGE, "no_shared_task", model=label, n=0)
    return rows


def _paired_task(
    s: Selection, b: Selection, resampling: Resampling, ledger: Exclusions, label: str
) -> tuple[TaskCorrelation, TaskCorrelation] | None:
    in_base = {item: k for k, item in enumerate(b.item_ids)}
    shared = [k for k, item in enumerate(s.item_ids) if item in in_base]
    n_unshared = s.n + b.n - 2 * len(shared)
    if n_unshared:
        ledger.add(STAGE, "item_not_analysed_for_both", model=label, task=s.task, n=n_unshared)
    ids = [s.item_ids[k] for k in shared]
    base_rows = [in_base[item] for item in ids]
    costs = np.stack([s.cost[shared], b.cost[base_rows]], axis=1)
    if len(ids) < 3 or any(stats.is_constant(costs[:, j]) for j in range(2)):
        ledger.add(STAGE, "too_few_shared_items", model=label, task=s.task, n=len(ids))
        return None
    rng = resampling.rng(STAGE, s.task, "\n".join(ids))
    acc = np.stack([s.accuracy[shared], b.accuracy[base_rows]], axis=1)
    result = correlate_task(ids, costs, s.difficulty[shared], acc, resampling, rng)
    return result[0], result[1]


def _summary(value, boot, level) -> tuple[float, float, float, float]:
    low, high = stats.percentile_ci(boot, level)
    return float(value), float(low), float(high), float(stats.bootstrap_p(boot))


def _record(student, base, task, n, r_pair, acc_pair, dr, da) -> dict:
    return {
        "student": student,
        "base": base,
        "task": task,
        "n": n,
        "student_r": r_pair[0],
        "base_r": r_pair[1],
        "delta_r": dr[0],
        "delta_r_ci_low": dr[1],
        "delta_r_ci_high": dr[2],
        "delta_r_p": dr[3],
        "student_accuracy": acc_pair[0],
        "base_accuracy": acc_pair[1],
        "delta_acc": da[0],
        "delta_acc_ci_low": da[1],
        "delta_acc_ci_high": da[2],
        "delta_acc_p": da[3],
    }


def _row(student, base, task, s: TaskCorrelation, b: TaskCorrelation, *, level) -> dict:
    dr = _summary(s.r - b.r, s.boot_r - b.boot_r, level)
    da = _summary(s.accuracy - b.accuracy, s.boot_accuracy - b.boot_accuracy, level)
    return _record(student, base, task, s.n, (s.r, b.r), (s.accuracy, b.accuracy), dr, da)


def _overall(student, base, per_task, level) -> dict:
    students = [s for _, s, _ in per_task]
    bases = [b for _, _, b in per_task]
    r_s = float(stats.fisher_mean(np.array([t.r for t in students])))
    r_b = float(stats.fisher_mean(np.array([t.r for t in bases])))
    boot_dr = stats.fisher_mean(np.stack([t.boot_r for t in students])) - stats.fisher_mean(
        np.stack([t.boot_r for t in bases])
    )
    weights = np.array([t.n for t in students], dtype=np.float64)
    weights /= weights.sum()
    acc_s = float(weights @ np.array([t.accuracy for t in students]))
    acc_b = float(weights @ np.array([t.accuracy for t in bases]))
    boot_da = weights @ (
        np.stack([t.boot_accuracy for t in students]) - np.stack([t.boot_accuracy for t in bases])
    )
    n = int(sum(t.n for t in students))
    dr = _summary(r_s - r_b, boot_dr, level)
    da = _summary(acc_s - acc_b, boot_da, level)
    return _record(student, base, ALL_TASKS, n, (r_s, r_b), (acc_s, acc_b), dr, da)
