"""Behavioural alignment: does a model's reasoning cost follow human item difficulty?

`score(items_path, trace_paths, out_dir, ...)` is the stage entry point (see `scoring`).
"""

from experiments.behaviour.scoring import BehaviourOptions, BehaviourResult, parse_pair, score

__all__ = ["BehaviourOptions", "BehaviourResult", "parse_pair", "score"]
