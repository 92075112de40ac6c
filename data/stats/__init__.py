"""The project's one statistics module: every reported r, CI and p is computed here.

Behaviour, probes, the ablation checks, the organism card and the report all import it, so a
number means the same thing wherever it is printed. It imports numpy and scipy, nothing of ours.

Conventions:
- Confidence intervals are percentile bootstrap intervals over items (the 2.5th and 97.5th
  percentiles of the resampled statistic for 95%); resamples where the statistic is undefined
  (a variable constant within the resample) are left out. Without a bootstrap, a correlation's
  CI is the Fisher-z interval tanh(arctanh r +- z_{0.975} / sqrt(n - 3)).
- Permutation p-values: `permutation_p(observed, null)`, observed first. Two-sided on
  |statistic| unless `alternative="greater"` or `"less"` is passed explicitly:
  p = (1 + #{|null| >= |observed|}) / (1 + n_perm), null values within 1e-12 of the observed
  one counting as "at least as extreme", NaN null values not counted. When the null enumerates
  every permutation (n! <= n_perm, `exact=True`) p = #{...} / n! (the identity is among them).
- Bootstrap p for "difference = 0": twice the smaller tail of the resampled differences,
  (1 + #) / (1 + n_boot), capped at 1 (`bootstrap_p`).
- Fisher-z means are unweighted: tanh(mean_i arctanh r_i), |r| clipped to 1 - 1e-12.
- A variable is constant (its correlation undefined, NaN) when its sd is within 1e-12 of its
  magnitude, sd <= 1e-12 max(1, |mean|) (`is_constant`, and inside `pearson`/`spearman`).
- Everything is deterministic given a seed: resample rows come from numpy's default_rng(seed),
  the bootstrap rows drawn before the permutations.
"""

from mimicry.data.stats.correlation import (
    CONSTANT_RTOL,
    Correlation,
    correlate,
    fisher_ci,
    fisher_mean,
    fisher_mean_ci,
    fisher_z,
    is_constant,
    partial_pearson,
    pearson,
    ranks,
    residualise,
    spearman,
    t_test_p,
)
from mimicry.data.stats.proportions import wilson_ci
from mimicry.data.stats.resampling import (
    DEFAULT_MAX_ELEMENTS,
    TIE_TOL,
    Difference,
    all_permutations,
    bootstrap_ci,
    bootstrap_indices,
    bootstrap_p,
    can_enumerate,
    chunk_rows,
    paired_bootstrap,
    percentile_ci,
    permutation_indices,
    permutation_matrix,
    permutation_p,
    permute_within,
    resample_counts,
)
from mimicry.data.stats.weighted import (
    centered_moments,
    correlation_from_moments,
    permutation_null,
    weighted_ranks,
    weighted_spearman,
    zscore,
)

__all__ = [
    "CONSTANT_RTOL",
    "DEFAULT_MAX_ELEMENTS",
    "TIE_TOL",
    "Correlation",
    "Difference",
    "all_permutations",
    "bootstrap_ci",
    "bootstrap_indices",
    "bootstrap_p",
    "can_enumerate",
    "centered_moments",
    "chunk_rows",
    "correlate",
    "correlation_from_moments",
    "fisher_ci",
    "fisher_mean",
    "fisher_mean_ci",
    "fisher_z",
    "is_constant",
    "paired_bootstrap",
    "partial_pearson",
    "pearson",
    "percentile_ci",
    "permutation_indices",
    "permutation_matrix",
    "permutation_null",
    "permutation_p",
    "permute_within",
    "ranks",
    "resample_counts",
    "residualise",
    "spearman",
    "t_test_p",
    "weighted_ranks",
    "weighted_spearman",
    "wilson_ci",
    "zscore",
]
