"""Behavioural alignment: does a model's reasoning cost follow human item difficulty?

`score(items_path, trace_paths, out_dir, ...)` is the stage entry point (see `scoring`).
The analyses over DataFrames: `inflation_table` (cost relative to a reference model, from
`item_costs`) and `wrong_right_table` (cost of wrong vs correct samples, from `item_contrasts`).
"""

from mimicry.experiments.behaviour.inflation import inflation_table
from mimicry.experiments.behaviour.scoring import (
    BehaviourOptions,
    BehaviourResult,
    parse_pair,
    score,
)
from mimicry.experiments.behaviour.selection import item_costs
from mimicry.experiments.behaviour.wrong_right import item_contrasts, wrong_right_table

__all__ = [
    "BehaviourOptions",
    "BehaviourResult",
    "inflation_table",
    "item_contrasts",
    "item_costs",
    "parse_pair",
    "score",
    "wrong_right_table",
]
