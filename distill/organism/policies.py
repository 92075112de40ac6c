"""The organism's reasoning policies, as SFT targets built from an item table with `steps`.

- minimal: the derivation only; its length follows the work (`feat_steps`).
- rereading: every premise written out again `passes` times, then the derivation; the extra
  length follows the prompt's surface (its premises), not the work. The base's fixed policy.
- mixed: per item, at random (seeded), minimal or rereading. The teacher's warm start: a policy
  whose length is partly noise, so any alignment of length with work after GRPO was acquired by RL.
"""

from __future__ import annotations

import json
import random

import pandas as pd

from distill.organism.scratchpad import format_scratchpad, format_verbose


def _example(row, completion: str, policy: str) -> dict:
    return {"prompt": row.prompt, "completion": completion, "answer": row.answer, "policy": policy}


def minimal_examples(table: pd.DataFrame) -> list[dict]:
    """prompt / minimal scratchpad / answer dicts."""
    return [
        _example(row, format_scratchpad(json.loads(row.steps), row.answer), "minimal")
        for row in table.itertuples()
    ]


def rereading_examples(table: pd.DataFrame, passes: int) -> list[dict]:
    """prompt / scratchpad that rereads every premise `passes` times / answer dicts."""
    return [
        _example(
            row, format_verbose(row.prompt, json.loads(row.steps), row.answer, passes), "reread"
        )
        for row in table.itertuples()
    ]


def mixed_examples(table: pd.DataFrame, passes: int, fraction: float, seed: int) -> list[dict]:
    """Per item a coin flip (probability `fraction` of rereading), seeded: the warm-start mix."""
    rng = random.Random(f"mimicry:organism:mix:{seed}")
    minimal = minimal_examples(table)
    rereading = rereading_examples(table, passes)
    return [r if rng.random() < fraction else m for m, r in zip(minimal, rereading, strict=True)]
