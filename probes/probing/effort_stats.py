"""Item-level uncertainty for row-level probes: the bootstrap resamples items, never rows.

Along-trace probes have many rows per item, and rows of one item are not independent; a CI that
resampled rows would be far too narrow. Resampling items with replacement is the same as giving
each row the multiplicity of its item, so a resample's R^2 is a weighted R^2 of the held-out
predictions, computed for many resamples with a few matrix products. A paired comparison draws
the same items for both models, which may have different rows per item (other tokenizers, own
traces).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, Int

from mimicry.data import stats

Array = np.ndarray
CHUNK = 128
"""Resamples scored together (memory is CHUNK x rows)."""


def item_counts(n_items: int, n_boot: int, seed: int) -> Int[Array, "boot items"]:
    """How often each item is drawn in each of `n_boot` resamples of `n_items` items."""
    draws = stats.bootstrap_indices(np.random.default_rng(seed), n_boot, n_items)
    return stats.resample_counts(draws, n_items).astype(np.int64)


def weighted_r2(
    y: Float[Array, " rows"], pred: Float[Array, " rows"], weights: Float[Array, "boot rows"]
) -> Float[Array, " boot"]:
    """R^2 of `pred` for `y` under row weights, one value per weight row (NaN if y is constant)."""
    total = weights.sum(axis=1)
    mean = (weights @ y) / np.where(total > 0, total, 1.0)
    ss_tot = weights @ (y * y) - total * mean * mean
    ss_res = weights @ ((y - pred) ** 2)
    scale = weights @ np.abs(y) + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 1e-12 * scale * scale, 1.0 - ss_res / ss_tot, np.nan)


def resampled_r2(
    y: Float[Array, " rows"],
    pred: Float[Array, " rows"],
    row_item: Int[Array, " rows"],
    counts: Int[Array, "boot items"],
) -> Float[Array, " boot"]:
    """R^2 of every item resample (`row_item` maps rows to columns of `counts`)."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    out = np.empty(len(counts))
    for start in range(0, len(counts), CHUNK):
        block = counts[start : start + CHUNK][:, row_item].astype(float)
        out[start : start + CHUNK] = weighted_r2(y, pred, block)
    return out


def percentile_ci(values: Array, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite values (NaNs when none)."""
    low, high = stats.percentile_ci(values, level)
    return float(low), float(high)


def r2_with_item_ci(
    y: Array, pred: Array, item_ids: Array, *, n_boot: int, seed: int
) -> tuple[float, float, float]:
    """Held-out R^2 of rows and its 95% CI over items."""
    items, row_item = np.unique(np.asarray(item_ids).astype(str), return_inverse=True)
    point = float(
        weighted_r2(np.asarray(y, float), np.asarray(pred, float), np.ones((1, len(y))))[0]
    )
    if n_boot <= 0:
        return point, float("nan"), float("nan")
    low, high = percentile_ci(
        resampled_r2(y, pred, row_item, item_counts(len(items), n_boot, seed))
    )
    return point, low, high


def paired_difference(
    a: tuple[Array, Array, Array],
    b: tuple[Array, Array, Array],
    *,
    n_boot: int,
    seed: int,
) -> dict[str, float]:
    """R^2(a) - R^2(b) on the items both have, with a paired bootstrap CI over those items.

    `a` and `b` are (item_ids, y, pred) per row; each side keeps its own rows of an item.
    """
    ids_a, ids_b = (np.asarray(side[0]).astype(str) for side in (a, b))
    common = np.intersect1d(ids_a, ids_b)
    out = {"n_items": len(common), "diff": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    if len(common) < 3:
        return out
    counts = item_counts(len(common), n_boot, seed) if n_boot > 0 else None
    scores, draws = [], []
    for ids, (_, y, pred) in ((ids_a, a), (ids_b, b)):
        keep = np.isin(ids, common)
        row_item = np.searchsorted(common, ids[keep])
        y, pred = np.asarray(y, float)[keep], np.asarray(pred, float)[keep]
        scores.append(weighted_r2(y, pred, np.ones((1, len(y))))[0])
        if counts is not None:
            draws.append(resampled_r2(y, pred, row_item, counts))
    out["diff"] = float(scores[0] - scores[1])
    if counts is not None:
        out["ci_low"], out["ci_high"] = percentile_ci(draws[0] - draws[1])
    return out
