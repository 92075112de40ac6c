"""The behaviour stage: item table + trace files -> alignment, summary, transfer, inflation (with a
reference model), wrong-vs-right cost, exclusions, report.

`score` is what `mimicry behaviour` and the pipeline call: it reads the files, runs the in-memory
`analysis.compute_tables` (what `alignment(traces, items)` returns) and writes the tables. Everything is written inside
`atomic_dir(out_dir)`, so bad input (raised as InputError before or during the work) leaves no
output directory behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import atomic_dir, hash_inputs, write_json, write_stamp
from mimicry.data.traces import read_traces
from mimicry.experiments.behaviour.analysis import (
    AlignmentTables,
    Progress,
    compute_tables,
    parse_pair,
)
from mimicry.experiments.behaviour.inflation import INFLATION_COLUMNS
from mimicry.experiments.behaviour.report import write_report
from mimicry.experiments.behaviour.selection import CORRECT_ONLY, MAIN
from mimicry.experiments.behaviour.wrong_right import WRONG_RIGHT_COLUMNS
from mimicry.experiments.config.stage_options import BehaviourConfig
from mimicry.probes.config import resolve_config


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
    options: BehaviourConfig | None = None,
    tokenizer: str | Path | None = None,
    trust_remote_code: bool = False,
    progress: Progress | None = None,
    **option_overrides,
) -> BehaviourResult:
    """Score how well each model's reasoning cost follows human difficulty, from files.

    Args:
        items_path: item table (CSV or JSONL, see data.items).
        trace_paths: one or more trace JSONL files (see data.traces).
        out_dir: output directory (replaced atomically).
        pairs: (student, base) pairs, or 'student=base' strings, for transfer.csv.
        options: the stage's `BehaviourConfig` (default: its defaults, the same as
            `mimicry behaviour` and the run config's); keyword overrides (seed=..., n_boot=...,
            difficulty="auto", reference="teacher") are validated on top.
        tokenizer: tokenizer folder to count reasoning tokens for every trace line.
        progress: called with a short description as each step starts.

    Writes alignment.csv, summary.csv, transfer.csv, inflation.csv, wrong_right.csv,
    exclusions.csv, settings.json and report.md (+ figures) into `out_dir`.
    """
    from mimicry.data.items import read_items

    options = resolve_config(BehaviourConfig, options, option_overrides)
    say = progress or (lambda _: None)
    paths = expand_trace_paths(trace_paths)
    pair_list = [parse_pair(p) if isinstance(p, str) else (str(p[0]), str(p[1])) for p in pairs]

    say("reading items and traces")
    items = read_items(items_path)
    counter = (
        tokenizer_counter(tokenizer, trust_remote_code=trust_remote_code) if tokenizer else None
    )
    traces, ledger = read_traces(paths, item_ids=items["item_id"], count_tokens=counter)
    tables = compute_tables(items, traces, ledger, pair_list, options, say)

    inputs_hash = hash_inputs(
        Path(items_path), *paths, options.model_dump(mode="json"), pair_list, str(tokenizer)
    )
    with atomic_dir(out_dir) as tmp:
        write_tables(tables, tmp)
        write_json(
            tmp / "settings.json",
            {
                **options.model_dump(mode="json"),
                "items": str(items_path),
                "traces": [str(p) for p in paths],
                "pairs": [f"{s}={b}" for s, b in pair_list],
                "tokenizer": None if tokenizer is None else str(tokenizer),
            },
        )
        say("report and figures")
        write_report(
            tmp,
            alignment=tables.alignment,
            summary=tables.summary,
            transfer=tables.transfer,
            inflation=tables.inflation,
            wrong_right=tables.wrong_right,
            exclusions=ledger,
            options=options,
            scatter=_scatter_data(tables.correlations) if options.figures else {},
            token_source="tokenizer " + str(tokenizer) if tokenizer else "trace files",
        )
        write_stamp(tmp, inputs_hash, stage="behaviour")
    return BehaviourResult(
        Path(out_dir),
        tables.alignment,
        tables.summary,
        tables.transfer,
        ledger,
        tables.inflation,
        tables.wrong_right,
    )


def write_tables(tables: AlignmentTables, out: Path) -> None:
    """The CSVs of RUN/behaviour: alignment, summary, transfer, inflation, wrong_right,
    exclusions."""
    tables.alignment.to_csv(out / "alignment.csv", index=False)
    tables.summary.to_csv(out / "summary.csv", index=False)
    tables.transfer.to_csv(out / "transfer.csv", index=False)
    tables.inflation.to_csv(out / "inflation.csv", index=False)
    tables.wrong_right.to_csv(out / "wrong_right.csv", index=False)
    tables.exclusions.write_csv(out / "exclusions.csv")


def _scatter_data(results) -> dict:
    return {(m, t): res for (a, m, t), res in results.items() if a == MAIN}


__all__ = ["BehaviourConfig", "BehaviourResult", "CORRECT_ONLY", "MAIN", "parse_pair", "score"]
