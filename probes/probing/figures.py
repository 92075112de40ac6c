"""Per-target figures: probe score against relative depth, one curve per model, baselines dashed.

`draw_target` draws onto any Axes (a notebook's, inline); `plot_target` renders a file through a
`Figure` with its own Agg canvas, so no global matplotlib backend is ever chosen here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mimicry.data.fileio import atomic_file


def draw_target(ax, rows: pd.DataFrame, target: str, position: str):
    """Score vs relative depth with CI bands; random-init and control curves and the surface
    level dashed. `rows`: one target at one position, one metric. Returns `ax`."""
    metric = rows["metric"].iloc[0]
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
    return ax


def plot_target(rows: pd.DataFrame, target: str, position: str, path: Path) -> None:
    """`draw_target` into a PNG at `path` (written atomically)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0))
    FigureCanvasAgg(fig)
    draw_target(fig.subplots(), rows, target, position)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)


def plot_all(table: pd.DataFrame, figures_dir: Path) -> list[Path]:
    """One figure per (target, position) from the primary metric of each probe."""
    from mimicry.probes.probing.layers import PRIMARY_METRICS

    written = []
    primary = table[table["metric"].isin(PRIMARY_METRICS)]
    for (target, position), rows in primary.groupby(["target", "position"], sort=True):
        path = figures_dir / f"probe_{target}_{position}.png"
        plot_target(rows, target, position, path)
        written.append(path)
    return written
