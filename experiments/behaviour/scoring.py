"""The behaviour stage: item table + trace files -> alignment, summary, transfer, inflation (with a
reference model), wrong-vs-right cost, exclusions, report.

`score` is what `mimicry behaviour` and the pipeline call. Everything is written inside
`atomic_dir(out_dir)`, so bad input (raised as InputError before or during the work) leaves no
output directory behind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import atomic_dir, hash_inputs, write_json, write_stamp
from mimicry.data.traces import read_traces
from mimicry.experiments.behaviour.alignment import Resampling, TaskCorrelation, correlate_task
from mimicry.experiments.behaviour.inflation import INFLATION_COLUMNS, inflation_table
from mimicry.experiments.behaviour.report import write_report
from mimicry.experiments.behaviour.selection import (
    CORRECT_ONLY,
    DIFFICULTY_KINDS,
    MAIN,
    OK,
    OUTLIER_RULES,
    Selection,
    item_costs,
    select,
)
from mimicry.experiments.behaviour.tables import (
    TRANSFER_COLUMNS,
    alignment_table,
    summary_table,
)
from mimicry.experiments.behaviour.transfer import transfer_rows
from mimicry.experiments.behaviour.wrong_right import (
    WRONG_RIGHT_COLUMNS,
    item_contrasts,
    wrong_right_table,
)

Progress = Callable[[str], None]


@dataclass
class BehaviourOptions:
    """Options of the behaviour stage (the CLI flags of `mimicry behaviour`).

    `difficulty`: "auto" (per task: RT where the task has RT norms, else 1 - accuracy), "rt" or
    "error". `reference`: a model with traces; inflation.csv compares every other model's cost
    with it (None: inflation.csv has no rows).
    """

    seed: int = 0
    log_cost: bool = False
    difficulty: str = "auto"
    n_boot: int = 10_000
    n_perm: int = 10_000
    min_items: int = 5
    outliers: str = "none"
    level: float = 0.95
    figures: bool = True
    reference: str | None = None

    def validate(self) -> None:
        """Reject options no analysis can run with, naming the option."""
        checks = (
            (self.difficulty in DIFFICULTY_KINDS, "difficulty", f"choose from {DIFFICULTY_KINDS}"),
            (self.outliers in OUTLIER_RULES, "outliers", f"choose from {OUTLIER_RULES}"),
            (self.n_boot >= 10, "n_boot", "needs at least 10 resamples"),
            (self.n_perm >= 10, "n_perm", "needs at least 10 permutations"),
            (self.min_items >= 3, "min_items", "a correlation needs at least 3 items"),
            (0.0 < self.level < 1.0, "level", "must lie between 0 and 1"),
        )
        for ok, name, message in checks:
            if not ok:
                raise InputError(f"{message} (got {getattr(self, name)!r})", field=name)


@dataclass
class BehaviourResult:
    """The tables `score` wrote, for callers that continue in Python."""

    out_dir: Path
    alignment: pd.DataFrame
    summary: pd.DataFrame
    transfer: pd.DataFrame
    exclusions: Exclusions
    inflation: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=INFLATION_COLUMNS))
    wrong_right: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=WRONG_RIGHT_COLUMNS)
    )


def parse_pair(text: str) -> tuple[str, str]:
    """'student=base' -> (student, base)."""
    student, sep, base = text.partition("=")
    if not sep or not student.strip() or not base.strip():
        raise InputError(f"expected STUDENT=BASE, got {text!r}", field="pair")
    return student.strip(), base.strip()


def expand_trace_paths(trace_paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Trace files as given; a directory stands for the `*.jsonl` files in it (e.g. RUN/traces)."""
    given = [trace_paths] if isinstance(trace_paths, str | Path) else list(trace_paths)
    paths: list[Path] = []
    for path in map(Path, given):
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise InputError("directory holds no *.jsonl trace files", file=path)
            paths.extend(found)
        else:
            paths.append(path)
    return paths


def _check_reference(reference: str | None, models: Sequence[str]) -> None:
    if reference is not None and reference not in models:
        raise InputError(
            f"reference model {reference!r} has no traces (models: {', '.join(models)})",
            field="reference",
        )


def _check_pair(student: str, base: str, models: Sequence[str]) -> None:
    if student == base:
        raise InputError(f"student and base are the same model {student!r}", field="pair")
    for name in (student, base):
        if name not in models:
            raise InputError(
                f"model {name!r} has no traces (models: {', '.join(models)})", field="pair"
            )


def tokenizer_counter(path: str | Path, *, trust_remote_code: bool = False):
    """A batched token counter from a tokenizer folder (no special tokens added)."""
    from mimicry.probes.loading import load_tokenizer

    tokenizer = load_tokenizer(path, trust_remote_code=trust_remote_code)

    def count(texts: Sequence[str]) -> list[int]:
        encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    return count


def score(
    items_path: str | Path,
    trace_paths: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    *,
    pairs: Sequence[str | tuple[str, str]] = (),
    options: BehaviourOptions | None = None,
    tokenizer: str | Path | None = None,
    trust_remote_code: bool = False,
    progress: Progress | None = None,
    **option_overrides,
) -> BehaviourResult:
    """Score how well each model's reasoning cost follows human difficulty.

    Args:
        items_path: item table (CSV or JSONL, see data.items).
        trace_paths: one or more trace JSONL files (see data.traces).
        out_dir: output directory (replaced atomically).
        pairs: (student, base) pairs, or 'student=base' strings, for transfer.csv.
        options: BehaviourOptions; keyword overrides (seed=..., n_boot=..., difficulty="auto",
            reference="teacher") apply on top.
        tokenizer: tokenizer folder to count reasoning tokens for every trace line.
        progress: called with a short description as each step starts.

    Writes alignment.csv, summary.csv, transfer.csv, inflation.csv, wrong_right.csv,
    exclusions.csv, settings.json and report.md (+ figures) into `out_dir`.
    """
    from mimicry.data.items import read_items

    options = BehaviourOptions(**{**asdict(options or BehaviourOptions()), **option_overrides})
    options.validate()
    say = progress or (lambda _: None)
    paths = expand_trace_paths(trace_paths)
    pair_list = [parse_pair(p) if isinstance(p, str) else (str(p[0]), str(p[1])) for p in pairs]

    say("reading items and traces")
    items = read_items(items_path)
    counter = (
        tokenizer_counter(tokenizer, trust_remote_code=trust_remote_code) if tokenizer else None
    )
    traces, ledger = read_traces(paths, item_ids=items["item_id"], count_tokens=counter)
    models = sorted(traces["model"].unique())
    for student, base in pair_list:
        _check_pair(student, base, models)
    _check_reference(options.reference, models)

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

    alignment = alignment_table(selections, results)
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

    inputs_hash = hash_inputs(Path(items_path), *paths, asdict(options), pair_list, str(tokenizer))
    with atomic_dir(out_dir) as tmp:
        alignment.to_csv(tmp / "alignment.csv", index=False)
        summary.to_csv(tmp / "summary.csv", index=False)
        transfer.to_csv(tmp / "transfer.csv", index=False)
        inflation.to_csv(tmp / "inflation.csv", index=False)
        wrong_right.to_csv(tmp / "wrong_right.csv", index=False)
        ledger.write_csv(tmp / "exclusions.csv")
        write_json(
            tmp / "settings.json",
            {
                **asdict(options),
                "items": str(items_path),
                "traces": [str(p) for p in paths],
                "pairs": [f"{s}={b}" for s, b in pair_list],
                "tokenizer": None if tokenizer is None else str(tokenizer),
            },
        )
        say("report and figures")
        write_report(
            tmp,
            alignment=alignment,
            summary=summary,
            transfer=transfer,
            inflation=inflation,
            wrong_right=wrong_right,
            exclusions=ledger,
            options=options,
            scatter=_scatter_data(results) if options.figures else {},
            token_source="tokenizer " + str(tokenizer) if tokenizer else "trace files",
        )
        write_stamp(tmp, inputs_hash, stage="behaviour")
    return BehaviourResult(
        Path(out_dir), alignment, summary, transfer, ledger, inflation, wrong_right
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


def _scatter_data(results) -> dict[tuple[str, str], TaskCorrelation]:
    return {(m, t): res for (a, m, t), res in results.items() if a == MAIN}


__all__ = ["BehaviourOptions", "BehaviourResult", "CORRECT_ONLY", "MAIN", "parse_pair", "score"]
