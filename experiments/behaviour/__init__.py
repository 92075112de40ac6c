"""Behavioural alignment: does a model's reasoning cost follow human item difficulty?

`alignment(traces, items, ...) -> AlignmentTables` computes every table in memory (DataFrames in,
DataFrames out). `score(items_path, trace_paths, out_dir, ...)` is the stage entry point: it reads
the files, runs the same computation and writes the tables and the report (see `scoring`).
The analyses over DataFrames: `inflation_table` (cost relative to a reference model, from
`item_costs`) and `wrong_right_table` (cost of wrong vs correct samples, from `item_contrasts`).

The name `alignment` here is the function; the correlation module of the same name stays
importable as `from mimicry.experiments.behaviour.alignment import correlate_task`.
"""

# Importing `analysis` loads the `alignment` module first; the name is then rebound to the function.
from mimicry.experiments.behaviour.analysis import AlignmentTables, alignment
from mimicry.experiments.behaviour.inflation import inflation_table
from mimicry.experiments.behaviour.scoring import (
    BehaviourConfig,
    BehaviourResult,
    parse_pair,
    score,
)
from mimicry.experiments.behaviour.selection import item_costs
from mimicry.experiments.behaviour.wrong_right import item_contrasts, wrong_right_table

__all__ = [
    "AlignmentTables",
    "BehaviourConfig",
    "BehaviourResult",
    "alignment",
    "inflation_table",
    "item_contrasts",
    "item_costs",
    "parse_pair",
    "score",
    "wrong_right_table",
]
