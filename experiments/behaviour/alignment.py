"""Cost-difficulty correlation of one task for models that share the same items.

Models analysed on the same items share one bootstrap index array and one set of permutations,
so their resampled statistics are computed together (one matrix product per chunk) and stay
paired; the per-task resamples are kept so that task-level results can be combined into r-bar
and the pooled within-task correlation without resampling again.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from mimicry.data import stats


@dataclass
class Resampling:
    """Resampling settings shared by every correlation of a run."""

    seed: int = 0
    n_boot: int = 10_000
    n_perm: int = 10_000
    level: float = 0.95
    max_elements: int = stats.DEFAULT_MAX_ELEMENTS

    def rng(self, *keys: str) -> np.random.Generator:
        """A generator determined by the seed and stable string keys (analysis, task, items), so
        a model's results do not depend on which other models or tasks are in the run."""
        words = [zlib.crc32(k.encode("utf-8")) for k in keys]
        return np.random.default_rng([self.seed, *words])


@dataclass
class TaskCorrelation:
    """Statistics of one model x task, with the resamples needed to combine tasks."""

    item_ids: list[str]
    r: float
    r_ci: tuple[float, float]
    p: float
    rho: float
    rho_ci: tuple[float, float]
    rho_p: float
    accuracy: float
    accuracy_ci: tuple[float, float]
    mean_cost: float
    p_exact: bool
    n_boot_used: int
    boot_r: np.ndarray  # [n_boot] resampled r (NaN: undefined resample)
    boot_moments: np.ndarray  # [n_boot, 3] centered sxx, syy, sxy in data units
    boot_accuracy: np.ndarray  # [n_boot]
    perm_r: np.ndarray  # [n_perm] r under random permutation of difficulty (always Monte Carlo)
    sxx: float  # centered sum of squares of cost (data units)
    syy: float  # centered sum of squares of difficulty
    cost: np.ndarray  # [n] per-item cost
    difficulty: np.ndarray  # [n] per-item difficulty

    @property
    def n(self) -> int:
        return len(self.item_ids)


def correlate_task(
    item_ids: Sequence[str],
    costs: Float[np.ndarray, "n m"],
    difficulty: Float[np.ndarray, " n"],
    accuracy: Float[np.ndarray, "n m"],
    resampling: Resampling,
    rng: np.random.Generator,
) -> list[TaskCorrelation]:
    """Pearson r and Spearman rho of each model's cost with difficulty, with bootstrap CIs and
    permutation p-values; one result per column of `costs`.

    Callers must have removed tasks where cost or difficulty is constant.
    """
    costs = np.asarray(costs, dtype=np.float64)
    difficulty = np.asarray(difficulty, dtype=np.float64)
    accuracy = np.asarray(accuracy, dtype=np.float64)
    n, m = costs.shape
    level, chunk = resampling.level, resampling.max_elements
    indices = stats.bootstrap_indices(rng, resampling.n_boot, n)
    perms = stats.permutation_indices(rng, resampling.n_perm, n)

    boot_r = np.empty((resampling.n_boot, m))
    boot_rho = np.empty((resampling.n_boot, m))
    boot_acc = np.empty((resampling.n_boot, m))
    boot_moments = np.empty((resampling.n_boot, m, 3))
    sd_cost = costs.std(axis=0)
    sd_diff = difficulty.std()
    for rows in stats.chunk_rows(resampling.n_boot, n, chunk):
        counts = stats.resample_counts(indices[rows], n)
        sw, sxx, syy, sxy = stats.centered_moments(counts, costs, difficulty)
        boot_r[rows] = stats.correlation_from_moments(sw, sxx, syy, sxy, sd_cost, sd_diff)
        boot_moments[rows] = np.stack([sxx, np.broadcast_to(syy[:, None], sxx.shape), sxy], -1)
        boot_acc[rows] = counts @ accuracy / sw[:, None]
        boot_rho[rows] = stats.weighted_spearman(counts, costs, difficulty)

    r = stats.pearson(costs, difficulty)
    rank_costs, rank_diff = stats.ranks(costs), stats.ranks(difficulty)
    rho = stats.pearson(rank_costs, rank_diff)
    perm_r = stats.permutation_null(costs, difficulty, perms, max_elements=chunk)
    exact = stats.can_enumerate(n, resampling.n_perm)
    if exact:
        every = stats.all_permutations(n)
        p = stats.permutation_p(
            r, stats.permutation_null(costs, difficulty, every, max_elements=chunk), exact=True
        )
        rho_p = stats.permutation_p(
            rho,
            stats.permutation_null(rank_costs, rank_diff, every, max_elements=chunk),
            exact=True,
        )
    else:
        p = stats.permutation_p(r, perm_r)
        rho_perm = stats.permutation_null(rank_costs, rank_diff, perms, max_elements=chunk)
        rho_p = stats.permutation_p(rho, rho_perm)

    r_lo, r_hi = stats.percentile_ci(boot_r, level)
    rho_lo, rho_hi = stats.percentile_ci(boot_rho, level)
    acc_lo, acc_hi = stats.percentile_ci(boot_acc, level)
    cost_c = costs - costs.mean(axis=0)
    diff_c = difficulty - difficulty.mean()
    results = []
    for j in range(m):
        results.append(
            TaskCorrelation(
                item_ids=list(item_ids),
                r=float(r[j]),
                r_ci=(float(r_lo[j]), float(r_hi[j])),
                p=float(p[j]),
                rho=float(rho[j]),
                rho_ci=(float(rho_lo[j]), float(rho_hi[j])),
                rho_p=float(rho_p[j]),
                accuracy=float(accuracy[:, j].mean()),
                accuracy_ci=(float(acc_lo[j]), float(acc_hi[j])),
                mean_cost=float(costs[:, j].mean()),
                p_exact=exact,
                n_boot_used=int(np.isfinite(boot_r[:, j]).sum()),
                boot_r=boot_r[:, j].copy(),
                boot_moments=boot_moments[:, j].copy(),
                boot_accuracy=boot_acc[:, j].copy(),
                perm_r=perm_r[:, j].copy(),
                sxx=float(cost_c[:, j] @ cost_c[:, j]),
                syy=float(diff_c @ diff_c),
                cost=costs[:, j].copy(),
                difficulty=difficulty.copy(),
            )
        )
    return results
