"""`alignment(traces, items) -> AlignmentTables`: the behaviour stage's tables, in memory.

Per model x task: Pearson r and Spearman rho of reasoning cost with human difficulty (bootstrap
CIs, permutation p), the correct-only version, r-bar and the pooled fixed-effects r per model,
student-minus-base transfer, inflation against a reference model, and cost when wrong vs right,
with every exclusion counted. `score` (the stage and `mimicry behaviour`) reads the files, runs
`compute_tables` and writes the tables and the report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.experiments.behaviour.alignment import Resampling, TaskCorrelation, correlate_task
from mimicry.experiments.behaviour.inflation import INFLATION_COLUMNS, inflation_table
from mimicry.experiments.behaviour.selection import (
    MAIN,
    OK,
    Selection,
    item_costs,
    select,
)
from mimicry.experiments.behaviour.tables import TRANSFER_COLUMNS, alignment_table, summary_table
from mimicry.experiments.behaviour.transfer import transfer_rows
from mimicry.experiments.behaviour.wrong_right import (
    WRONG_RIGHT_COLUMNS,
    item_contrasts,
    wrong_right_table,
)
from mimicry.experiments.config.stage_options import BehaviourConfig
from mimicry.probes.config import resolve_config

Progress = Callable[[str], None]


@dataclass(repr=False)
class AlignmentTables:
    """The behaviour stage's tables as DataFrames (the CSVs of RUN/behaviour), and the ledger.

    `correlations` keeps each (analysis, model, task) correlation with its resamples (the report's
    scatter plots read it).
    """

    alignment: pd.DataFrame
    summary: pd.DataFrame
    transfer: pd.DataFrame
    inflation: pd.DataFrame
    wrong_right: pd.DataFrame
    exclusions: Exclusions
    options: BehaviourConfig
    correlations: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (
            f"AlignmentTables(alignment: {len(self.alignment)} rows, transfer: "
            f"{len(self.transfer)}, excluded: {self.exclusions.total()}; summary:\n"
            f"{self.summary[['model', 'n_tasks', 'r_bar', 'r_bar_ci_low', 'r_bar_ci_high', 'r_bar_p']]!r})"
        )


def parse_pair(text: str) -> tuple[str, str]:
    """'student=base' -> (student, base)."""
    student, sep, base = text.partition("=")
    if not sep or not student.strip() or not base.strip():
        raise InputError(f"expected STUDENT=BASE, got {text!r}", field="pair")
    return student.strip(), base.strip()


def check_reference(reference: str | None, models: Sequence[str]) -> None:
    if reference is not None and reference not in models:
        raise InputError(
            f"reference model {reference!r} has no traces (models: {', '.join(models)})",
            field="reference",
        )


def check_pair(student: str, base: str, models: Sequence[str]) -> None:
    if student == base:
        raise InputError(f"student and base are the same model {student!r}", field="pair")
    for name in (student, base):
        if name not in models:
            raise InputError(
                f"model {name!r} has no traces (models: {', '.join(models)})", field="pair"
            )


def alignment(
    traces: pd.DataFrame,
    items: pd.DataFrame,
    *,
    pairs: Sequence[str | tuple[str, str]] = (),
    options: BehaviourConfig | None = None,
    count_tokens: Callable[[Sequence[str]], Sequence[int]] | None = None,
    progress: Progress | None = None,
    **option_overrides,
) -> AlignmentTables:
    """How well each model's reasoning cost follows human difficulty, from tables in memory.

    Args:
        traces: one row per item x sample (`item_id`, `model`, `sample`, `reasoning`,
            `answer`, `correct`, `n_reasoning_tokens`), validated as trace files are.
        items: the item table (`item_id`, `task`, `prompt`, `answer` and the human norms).
        pairs: (student, base) pairs, or 'student=base' strings, for the transfer table.
        options: the stage's `BehaviourConfig` (default: its defaults, the same as
            `mimicry behaviour` and the run config's); keyword overrides (seed=..., n_boot=...,
            difficulty="auto", reference="teacher") are validated on top.
        count_tokens: a batched token counter; recounts `n_reasoning_tokens` from `reasoning`.
        progress: called with a short description as each step starts.
    """
    from mimicry.data.items import validate_items
    from mimicry.data.traces import validate_traces

    options = resolve_config(BehaviourConfig, options, option_overrides)
    items = validate_items(items)
    frame, ledger = validate_traces(traces, item_ids=items["item_id"], count_tokens=count_tokens)
    return compute_tables(items, frame, ledger, pairs, options, progress)


def compute_tables(
    items: pd.DataFrame,
    traces: pd.DataFrame,
    ledger: Exclusions,
    pairs: Sequence[str | tuple[str, str]],
    options: BehaviourConfig,
    progress: Progress | None = None,
) -> AlignmentTables:
    """Every table from validated items and traces (the ledger gains each exclusion)."""
    say = progress or (lambda _: None)
    pair_list = [parse_pair(p) if isinstance(p, str) else (str(p[0]), str(p[1])) for p in pairs]
    models = sorted(traces["model"].unique())
    for student, base in pair_list:
        check_pair(student, base, models)
    check_reference(options.reference, models)
    selections_list = select(
        items,
        traces,
        ledger,
        difficulty=options.difficulty,
        log_cost=options.log_cost,
        min_items=options.min_items,
        outliers=options.outliers,
    )
    selections = {(s.analysis, s.model, s.task): s for s in selections_list}
    resampling = Resampling(
        seed=options.seed, n_boot=options.n_boot, n_perm=options.n_perm, level=options.level
    )
    say("bootstrap and permutation tests")
    results = correlate_all(selections_list, resampling)
    norms = {(s.model, s.task): s.difficulty_norm for s in selections_list}
    summary = summary_table(
        models, results, options.level, norms=norms, standardise=options.difficulty == "auto"
    )
    main = {(s.model, s.task): s for s in selections_list if s.analysis == MAIN}
    say("paired transfer bootstrap")
    transfer = pd.DataFrame(
        transfer_rows(pair_list, main, resampling, ledger, min_items=options.min_items),
        columns=list(TRANSFER_COLUMNS),
    )
    say("inflation and wrong-vs-right cost")
    inflation = pd.DataFrame(columns=list(INFLATION_COLUMNS))
    if options.reference is not None:
        costs = item_costs(items, traces, difficulty=options.difficulty)
        inflation = inflation_table(
            costs,
            options.reference,
            resampling=resampling,
            ledger=ledger,
            min_items=options.min_items,
        )
    wrong_right = wrong_right_table(
        item_contrasts(traces, items),
        resampling=resampling,
        ledger=ledger,
        min_items=options.min_items,
    )
    return AlignmentTables(
        alignment_table(selections, results),
        summary,
        transfer,
        inflation,
        wrong_right,
        ledger,
        options,
        results,
    )


def correlate_all(
    selections: Sequence[Selection], resampling: Resampling
) -> dict[tuple[str, str, str], TaskCorrelation]:
    """Correlate every analysable model x task; models with identical item sets in a task share
    one resampling (and one vectorised computation)."""
    groups: dict[tuple[str, str, tuple[str, ...]], list[Selection]] = defaultdict(list)
    for sel in selections:
        if sel.status == OK:
            groups[(sel.analysis, sel.task, tuple(sel.item_ids))].append(sel)
    results = {}
    for (analysis, task, ids), members in sorted(groups.items()):
        rng = resampling.rng(analysis, task, "\n".join(ids))
        costs = np.stack([s.cost for s in members], axis=1)
        accuracy = np.stack([s.accuracy for s in members], axis=1)
        found = correlate_task(ids, costs, members[0].difficulty, accuracy, resampling, rng)
        for sel, res in zip(members, found, strict=True):
            results[(analysis, sel.model, task)] = res
    return results


__all__ = [
    "AlignmentTables",
    "BehaviourConfig",
    "WRONG_RIGHT_COLUMNS",
    "alignment",
    "compute_tables",
    "parse_pair",
]
