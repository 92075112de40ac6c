"""Report figures: small, consistent, print-quality matplotlib PNGs (one colour per model throughout)."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mimicry.data.models import Roster  # noqa: E402

STYLE = {
    "font.family": "serif",
    "font.size": 8,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "figure.dpi": 150,
}
STUDENT_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


class Palette(dict):
    """Model -> colour, the legend label of each model (a ✗ marks a failed validity gate), and the
    report's model order, all from the run's model records."""

    def __init__(self, *args, roster: Roster | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.labels: dict[str, str] = {}
        self.roster = roster if roster is not None else Roster([])

    def label(self, model) -> str:
        return self.labels.get(str(model), str(model))

    def is_baseline(self, model) -> bool:
        """A random-init baseline: drawn dashed, light grey, after the trained models."""
        return self.roster.is_random_init(str(model))

    def sort_key(self, model) -> tuple[int, int, str]:
        """Teacher, base, students (in run order), random-init baselines, then anything else."""
        record = self.roster.get(str(model))
        if record is None:
            return (4, 0, str(model))
        rank = 3 if record.random_init else {"teacher": 0, "base": 1}.get(record.role, 2)
        return (rank, self.roster.names.index(record.name), str(model))


def legend_label(colours: dict, model) -> str:
    """The legend text of `model` under `colours` (a Palette's label, else the name)."""
    return colours.label(model) if isinstance(colours, Palette) else str(model)


def model_colours(models: list[str], roster: Roster) -> Palette:
    """Teacher black, base grey, students from the Okabe-Ito palette, random-init light grey."""
    colours = Palette(roster=roster)
    students = iter(STUDENT_COLOURS * 4)
    for model in sorted(models, key=colours.sort_key):
        record = roster.get(model)
        if record is not None and record.random_init:
            colours[model] = "#B0B0B0"
        elif record is not None and record.role == "teacher":
            colours[model] = "#000000"
        elif record is not None and record.role == "base":
            colours[model] = "#7F7F7F"
        else:
            colours[model] = next(students)
    return colours


def sort_key(colours: dict):
    """The model sort key of a Palette (plain dicts: by name)."""
    return colours.sort_key if isinstance(colours, Palette) else str


def _figure(**kwargs) -> Figure:
    """A figure with its own Agg canvas: no global backend, nothing shown in a notebook."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _subplots(*args, **kwargs):
    figure_keys = ("figsize", "dpi")
    fig = _figure(**{k: kwargs.pop(k) for k in figure_keys if k in kwargs})
    return fig, fig.subplots(*args, **kwargs)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=150)
    return buffer.getvalue()


def _panels(
    n: int, width: float = 2.6, height: float = 2.2, ncols: int | None = None, sharey: bool = True
):
    ncols = min(n, 4) if ncols is None else ncols
    nrows = int(np.ceil(n / ncols))
    fig, axes = _subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, sharey=sharey
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def forest(
    table: pd.DataFrame,
    *,
    panel: str,
    row: str,
    estimate: str,
    low: str,
    high: str,
    xlabel: str,
    colours: dict[str, str],
) -> bytes:
    """Dot-and-whisker plot: one panel per `panel` value, one row per `row` value, CI whiskers."""
    table = table[table[estimate].notna()]  # a task no model could be scored on gets no panel
    if table.empty:
        return _png(_figure(figsize=(3, 0.5)))
    with matplotlib.rc_context(STYLE):
        panels = sorted(table[panel].unique(), key=str)
        rows = sorted(table[row].unique(), key=sort_key(colours))
        fig, axes = _panels(len(panels), width=2.4, height=0.35 * len(rows) + 0.9)
        for ax, name in zip(axes, panels, strict=True):
            sub = table[table[panel] == name].set_index(row)
            for y, model in enumerate(rows):
                if model not in sub.index:
                    continue
                value = sub.loc[model]
                colour = colours.get(model, "#333333")
                ax.plot([value[low], value[high]], [y, y], color=colour, linewidth=1.2)
                ax.plot(value[estimate], y, "o", color=colour, markersize=4)
            ax.axvline(0, color="#444444", linewidth=0.6)
            ax.set_yticks(range(len(rows)), rows)
        axes[0].invert_yaxis()  # shared y: invert once (teacher on top)
        for ax in axes:
            ax.set_xlabel(xlabel)
        for ax, name in zip(axes, panels, strict=True):
            ax.set_title(str(name))
        fig.tight_layout()
        return _png(fig)


def depth_curves(
    table: pd.DataFrame,
    *,
    panel: str,
    x: str,
    y: str,
    low: str | None,
    high: str | None,
    line: str,
    colours: dict[str, str],
    xlabel: str,
    ylabel: str,
    hline: dict | None = None,
    dotted: str | None = None,
    panel_titles: dict | None = None,
) -> bytes:
    """Per-layer curves with CI bands: one panel per `panel` value, one line per `line` value.

    `hline` maps a panel to labelled horizontal baselines (e.g. surface-feature probes); `dotted` draws a
    second column per line dotted (e.g. the control-task score).
    """
    with matplotlib.rc_context(STYLE):
        panels = sorted(table[panel].unique(), key=str)
        fig, axes = _panels(len(panels))
        for ax, name in zip(axes, panels, strict=True):
            sub = table[table[panel] == name]
            for model in sorted(sub[line].unique(), key=sort_key(colours)):
                part = sub[sub[line] == model].sort_values(x)
                colour = colours.get(model, "#333333")
                style = "--" if isinstance(colours, Palette) and colours.is_baseline(model) else "-"
                ax.plot(
                    part[x],
                    part[y],
                    style,
                    color=colour,
                    marker="o",
                    markersize=2.5,
                    linewidth=1.2,
                    label=legend_label(colours, model),
                )
                if low and high:
                    ax.fill_between(
                        part[x], part[low], part[high], color=colour, alpha=0.15, linewidth=0
                    )
                if dotted and dotted in part and part[dotted].notna().any():
                    ax.plot(part[x], part[dotted], ":", color=colour, linewidth=0.9)
            for label, value in (hline or {}).get(name, {}).items():
                ax.axhline(value, color="#8B0000", linestyle="-.", linewidth=0.9, label=label)
            ax.axhline(0, color="#444444", linewidth=0.5)
            ax.set_title((panel_titles or {}).get(name, str(name)))
            ax.set_xlabel(xlabel)
        axes[0].set_ylabel(ylabel)
        seen: dict = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                seen.setdefault(label, handle)
        fig.legend(
            list(seen.values()),
            list(seen.keys()),
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=min(len(seen), 5),
            frameon=False,
        )
        fig.tight_layout()
        return _png(fig)


def grouped_bars(
    table: pd.DataFrame,
    *,
    group: str,
    metrics: list[tuple[str, str, str | None, str | None]],
    colours: dict[str, str],
) -> bytes:
    """One panel per metric (column, title, ci_low, ci_high), one bar per `group` value with CI."""
    with matplotlib.rc_context(STYLE):
        fig, axes = _panels(len(metrics), width=2.4, height=2.6, sharey=False)
        names = sorted(table[group].unique(), key=sort_key(colours))
        for ax, (column, title, low, high) in zip(axes, metrics, strict=True):
            sub = table.set_index(group).reindex(names)
            values = sub[column].to_numpy(dtype=float)
            errors = None
            if low and high and low in sub and high in sub:
                errors = np.vstack(
                    [
                        values - sub[low].to_numpy(dtype=float),
                        sub[high].to_numpy(dtype=float) - values,
                    ]
                )
                errors = np.where(np.isfinite(errors), np.abs(errors), 0.0)
            ax.bar(
                range(len(names)),
                np.nan_to_num(values),
                yerr=errors,
                capsize=2,
                color=[colours.get(n, "#333333") for n in names],
                width=0.7,
            )
            ax.set_xticks(
                range(len(names)),
                [legend_label(colours, n) for n in names],
                rotation=35,
                ha="right",
            )
            ax.axhline(0, color="#444444", linewidth=0.6)
            ax.set_title(title)
            ax.tick_params(axis="y", labelleft=True)
        fig.tight_layout()
        return _png(fig)


def line_with_ci(
    table: pd.DataFrame,
    *,
    x: str,
    y: str,
    low: str | None,
    high: str | None,
    line: str | None,
    colours: dict[str, str],
    xlabel: str,
    ylabel: str,
    title: str,
) -> bytes:
    """A single panel of y vs x with CI error bars, one series per `line` value."""
    with matplotlib.rc_context(STYLE):
        fig, ax = _subplots(figsize=(3.4, 2.4))
        groups = table.groupby(line) if line else [("", table)]
        for name, part in groups:
            part = part.sort_values(x)
            colour = colours.get(str(name), "#0072B2")
            errors = None
            if low and high:
                errors = np.abs(np.vstack([part[y] - part[low], part[high] - part[y]]))
            ax.errorbar(
                part[x],
                part[y],
                yerr=errors,
                marker="o",
                markersize=3,
                capsize=2,
                color=colour,
                linewidth=1.1,
                label=legend_label(colours, name) if line else None,
            )
        ax.axhline(0, color="#444444", linewidth=0.5)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if line:
            ax.legend(frameon=False)
        fig.tight_layout()
        return _png(fig)
