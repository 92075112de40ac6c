"""Per-target figures: probe score against relative depth, one curve per model, baselines dashed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mimicry.data.fileio import atomic_file


def plot_target(rows: pd.DataFrame, target: str, position: str, path: Path) -> None:
    """Score vs relative depth with CI bands; random-init and control curves and surface level dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = rows["metric"].iloc[0]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for index, (model, frame) in enumerate(rows.groupby("model", sort=True)):
        color = f"C{index}"
        acts = frame[frame["feature_set"] == "activations"].sort_values("rel_depth")
        ax.plot(acts["rel_depth"], acts["score"], color=color, marker="o", ms=3, label=model)
        ax.fill_between(acts["rel_depth"], acts["ci_low"], acts["ci_high"], color=color, alpha=0.2)
        for feature_set, style in (("random_init", "--"), ("control", ":")):
            base = frame[frame["feature_set"] == feature_set].sort_values("rel_depth")
            if len(base):
                ax.plot(
                    base["rel_depth"],
                    base["score"],
                    color=color,
                    ls=style,
                    lw=1,
                    label=f"{model} {feature_set}",
                )
        surface = frame[frame["feature_set"] == "surface"]
        if len(surface):
            ax.axhline(
                float(surface["score"].iloc[0]),
                color=color,
                ls="-.",
                lw=1,
                label=f"{model} surface",
            )
    ax.set_xlabel("relative depth (layer / layers; 0 = embeddings)")
    ax.set_ylabel(f"held-out {metric}")
    ax.set_title(f"{target} at {position}")
    ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def plot_all(table: pd.DataFrame, figures_dir: Path) -> list[Path]:
    """One figure per (target, position) from the primary metric of each probe."""
    written = []
    primary = table[table["metric"].isin(["r2", "auroc", "balanced_accuracy"])]
    for (target, position), rows in primary.groupby(["target", "position"], sort=True):
        path = figures_dir / f"probe_{target}_{position}.png"
        plot_target(rows, target, position, path)
        written.append(path)
    return written
