"""Benchmark: bootstrap CIs of Pearson r for 1,000 items x 20 models x 10,000 resamples.

Times the vectorised implementation (one `[n_boot, n]` index array, per-item counts, one matrix
product per chunk for all models) against a plain loop calling `scipy.stats.pearsonr` on
`x[idx_b], y[idx_b]` for each resample, in the same run and on the same index array. The loop is
run on all resamples for `--loop-models` models and extrapolated to all models (said in the
output). Also checks that both give the same r for every looped resample and the same CI.

Run: `python benchmarks/behaviour.py` (options: --items, --models, --n-boot, --loop-models).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import pearsonr

from mimicry.data import stats
from mimicry.experiments.behaviour.alignment import Resampling, correlate_task


def simulate(n_items: int, n_models: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Human RTs and per-model mean token costs with model-specific alignment."""
    rng = np.random.default_rng(seed)
    rt = rng.lognormal(7.3, 0.4, size=n_items)
    slopes = rng.uniform(0.0, 0.2, size=n_models)
    costs = 200 + rt[:, None] * slopes[None, :] + rng.normal(0, 80, size=(n_items, n_models))
    return costs, rt


def vectorised_ci(costs, rt, indices, max_elements=stats.DEFAULT_MAX_ELEMENTS):
    """Bootstrap r of all models on the shared index array, and the percentile CI."""
    n = len(rt)
    boot = np.empty((indices.shape[0], costs.shape[1]))
    sd_c, sd_rt = costs.std(axis=0), rt.std()
    for rows in stats.chunk_rows(indices.shape[0], n, max_elements):
        counts = stats.resample_counts(indices[rows], n)
        sw, sxx, syy, sxy = stats.centered_moments(counts, costs, rt)
        boot[rows] = stats.correlation_from_moments(sw, sxx, syy, sxy, sd_c, sd_rt)
    return boot, stats.percentile_ci(boot)


def loop_ci(cost, rt, indices):
    """The baseline: one scipy.stats.pearsonr call per resample."""
    boot = np.array([pearsonr(cost[idx], rt[idx])[0] for idx in indices])
    return boot, np.percentile(boot, [2.5, 97.5])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--n-boot", type=int, default=10_000)
    parser.add_argument("--loop-models", type=int, default=2, help="models the loop runs fully")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    costs, rt = simulate(args.items, args.models, args.seed)
    print(
        f"workload: {args.items} items x {args.models} models x {args.n_boot} bootstrap "
        "resamples (Pearson r, 95% percentile CI)"
    )

    start = time.perf_counter()
    indices = stats.bootstrap_indices(np.random.default_rng(args.seed), args.n_boot, args.items)
    boot_vec, (low_vec, high_vec) = vectorised_ci(costs, rt, indices)
    t_vec = time.perf_counter() - start
    print(f"vectorised (incl. drawing the index array): {t_vec:.2f} s")

    loop_models = min(args.loop_models, args.models)
    start = time.perf_counter()
    loop_results = [loop_ci(costs[:, j], rt, indices) for j in range(loop_models)]
    t_loop_part = time.perf_counter() - start
    t_loop = t_loop_part / loop_models * args.models
    extrapolated = loop_models < args.models
    print(
        f"plain loop (scipy.stats.pearsonr per resample): {t_loop_part:.2f} s for "
        f"{loop_models} model(s) x {args.n_boot} resamples"
        + (
            f" -> {t_loop:.1f} s for {args.models} models (EXTRAPOLATED linearly)"
            if extrapolated
            else ""
        )
    )
    print(f"speed-up: {t_loop / t_vec:.1f}x (target >= 20x)")

    max_r_diff = max(
        float(np.max(np.abs(boot_vec[:, j] - boot))) for j, (boot, _) in enumerate(loop_results)
    )
    max_ci_diff = max(
        float(max(abs(low_vec[j] - ci[0]), abs(high_vec[j] - ci[1])))
        for j, (_, ci) in enumerate(loop_results)
    )
    print(
        f"same index arrays: max |r_vectorised - r_loop| over {loop_models * args.n_boot} "
        f"resamples = {max_r_diff:.2e}; max CI endpoint difference = {max_ci_diff:.2e}"
    )
    for j, (_, ci) in enumerate(loop_results):
        print(
            f"  model {j}: vectorised CI [{low_vec[j]:.6f}, {high_vec[j]:.6f}]  "
            f"loop CI [{ci[0]:.6f}, {ci[1]:.6f}]"
        )
    assert max_r_diff < 1e-9, "vectorised and loop r differ beyond rounding"

    # The full per-task computation the stage runs (Pearson + Spearman CIs, permutation p).
    resampling = Resampling(seed=args.seed, n_boot=args.n_boot, n_perm=args.n_boot)
    start = time.perf_counter()
    correlate_task(
        [str(i) for i in range(args.items)],
        costs,
        rt,
        np.full_like(costs, 0.5),
        resampling,
        resampling.rng("bench"),
    )
    t_full = time.perf_counter() - start
    print(
        f"full stage statistics for the same workload (Pearson + Spearman bootstrap CIs, "
        f"accuracy CI, {args.n_boot} permutations each for r and rho): {t_full:.2f} s"
    )


if __name__ == "__main__":
    main()
