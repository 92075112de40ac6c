"""Findings: the referee's three questions answered in numbers generated from the run's tables.

Nothing here is written by hand: each sentence is a template filled from behaviour/, probes/ and
entropy/ tables, for the models that passed the validity gate only. Models that failed it are
named once, with the reason, and drawn on nowhere else in this section.

(a) layer-wise encoding: each model's best-layer probe score (human difficulty) with its CI, and
    student minus teacher at their best layers with a paired bootstrap CI over shared items;
(b) attention entropy conditioned on difficulty: each model's strongest layer with its CI, and
    student minus teacher with a paired bootstrap CI;
(c) the format-fixed / content-varied ablation against the original student: r-bar and probe
    score side by side with CIs.
Plus the behavioural headline: r-bar of every model and negative transfer with its CI.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from mimicry.data import stats
from mimicry.experiments.report.formatting import p_value, with_ci
from mimicry.experiments.report.validity import Verdict

PROBE_TARGET = "human_rt"


@dataclass(frozen=True)
class Paired:
    """A difference between two models' statistics on shared items, with a bootstrap CI."""

    estimate: float
    ci_low: float
    ci_high: float
    n: int

    def text(self) -> str:
        return f"{with_ci(self.estimate, self.ci_low, self.ci_high)} (n = {self.n} shared items)"


def paired_difference(
    a: tuple[np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray],
    statistic,
    *,
    n_boot: int,
    seed: int,
) -> Paired:
    """statistic(a) - statistic(b) over the same items, items resampled together (paired)."""
    d = stats.paired_bootstrap(statistic, a, b, n_boot=n_boot, seed=seed)
    return Paired(d.estimate, d.ci_low, d.ci_high, d.n)


def best_probe_layers(
    probes: pd.DataFrame, position: str, target: str = PROBE_TARGET
) -> pd.DataFrame:
    """Per model, the activation layer (>= 1) with the highest Spearman score for `target`."""
    rows = probes[
        (probes["feature_set"] == "activations")
        & (probes["target"] == target)
        & (probes["position"] == position)
        & (probes["metric"] == "spearman")
        & (probes["layer"] >= 1)
    ]
    if rows.empty:
        return rows
    return rows.sort_values("score").groupby("model").tail(1).set_index("model")


def probe_difference(
    predictions: pd.DataFrame,
    student: tuple[str, int],
    teacher: tuple[str, int],
    position: str,
    *,
    n_boot: int,
    seed: int,
    target: str = PROBE_TARGET,
) -> Paired:
    """Best-layer probe score (Spearman of out-of-fold predictions) of student minus teacher."""

    def of(model: str, layer: int) -> pd.DataFrame:
        part = predictions[
            (predictions["model"] == model)
            & (predictions["layer"] == layer)
            & (predictions["position"] == position)
            & (predictions["target"] == target)
        ]
        return part.set_index("item_id")[["y", "prediction"]]

    a, b = of(*student), of(*teacher)
    shared = a.index.intersection(b.index)
    a, b = a.loc[shared], b.loc[shared]
    return paired_difference(
        (a["y"].to_numpy(float), a["prediction"].to_numpy(float)),
        (b["y"].to_numpy(float), b["prediction"].to_numpy(float)),
        partial(stats.spearman, axis=-1),
        n_boot=n_boot,
        seed=seed,
    )


def entropy_items(path, layer: int, region: str, difficulty: pd.DataFrame) -> pd.DataFrame:
    """item_id -> within-task z of mean normalised entropy at one layer and region, and rt_z."""
    from mimicry.experiments.report.entropy import _zscore_within

    frame = pd.read_csv(path, dtype={"item_id": str})
    part = frame[(frame["layer"] == layer) & (frame["region"] == region)]
    per_item = part.groupby("item_id")["entropy_norm"].mean()
    joined = difficulty.join(per_item, how="inner").dropna(subset=["entropy_norm", "rt_z"])
    joined["entropy_z"] = _zscore_within(joined["entropy_norm"], joined["task"])
    return joined.dropna(subset=["entropy_z"])


def entropy_difference(
    files: dict,
    student: tuple[str, int, str],
    teacher: tuple[str, int, str],
    difficulty: pd.DataFrame,
    *,
    n_boot: int,
    seed: int,
) -> Paired:
    """r(entropy, RT) at the student's strongest layer minus the teacher's, paired over items."""
    a = entropy_items(files[student[0]], student[1], student[2], difficulty)
    b = entropy_items(files[teacher[0]], teacher[1], teacher[2], difficulty)
    shared = a.index.intersection(b.index)
    a, b = a.loc[shared], b.loc[shared]
    return paired_difference(
        (a["entropy_z"].to_numpy(float), a["rt_z"].to_numpy(float)),
        (b["entropy_z"].to_numpy(float), b["rt_z"].to_numpy(float)),
        partial(stats.pearson, axis=-1),
        n_boot=n_boot,
        seed=seed,
    )


def strongest_entropy_layers(entropy: pd.DataFrame) -> pd.DataFrame:
    """Per model, the layer and region with the largest |r| of normalised entropy with RT."""
    main = entropy[(entropy["measure"] == "entropy_norm") & entropy["r"].notna()]
    if main.empty:
        return main
    main = main.assign(_abs=main["r"].abs())
    return main.sort_values("_abs").groupby("model").tail(1).drop(columns="_abs").set_index("model")


def gate_sentence(verdicts: dict[str, Verdict]) -> str:
    """One line naming the models left out of every finding, with their reasons."""
    failed = [v for v in verdicts.values() if not v.interpretable]
    if not failed:
        return "Every model passed the validity gate; all are interpreted below."
    return (
        "Not interpreted (failed the validity gate): "
        + "; ".join(f"{v.model} ({v.reason})" for v in failed)
        + "."
    )


def r_bar_text(row: pd.Series) -> str:
    return (
        f"r̄ = {with_ci(row['r_bar'], row['r_bar_ci_low'], row['r_bar_ci_high'])}, "
        f"p = {p_value(row['r_bar_p'])}, {int(row['n_tasks'])} tasks, {int(row['n_items'])} items"
    )
