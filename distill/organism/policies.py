"""The organism's reasoning policies, as SFT targets built from an item table with `steps`.

- minimal: the derivation only; its length follows the work (`feat_steps`).
- rereading: every premise written out again `passes` times, then the derivation; the extra
  length follows the prompt's surface (its premises), not the work. The base's fixed policy.
- mixed: the teacher's warm start. Per item, rereading or minimal, drawn (seeded) with a
  probability set by a cue that has nothing to do with the work: a hash of the question's last
  word. The habit is item-specific, so greedy decoding shows it as sampling does, and not
  deterministic, so GRPO's samples meet both formats on every item. Any alignment of length with
  work after GRPO was acquired by RL.
"""

from __future__ import annotations

import hashlib
import json
import random
import re

import pandas as pd

from mimicry.distill.organism.scratchpad import format_scratchpad, format_verbose


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


# The salt gives a balanced split in every family (0.46-0.57 of items cued, simulated on 800
# generated items) and no correlation of the cue with the derivation steps (|r| < 0.07).
CUE_SALT = "b"


def rereading_cue(prompt: str) -> bool:
    """Whether the warm start leans to rereading on this item: the parity of a hash of the
    question's last word (an entity, place, term or atom, unrelated to how much work it needs)."""
    word = re.findall(r"\w+", prompt.split("Question:")[-1])[-1]
    return hashlib.md5((CUE_SALT + word).encode()).digest()[0] % 2 == 1


def mixed_examples(table: pd.DataFrame, passes: int, p_cued: float, seed: int) -> list[dict]:
    """The warm-start mix: rereading with probability `p_cued` on cued items and 1 - `p_cued`
    on the others (seeded), else minimal."""
    rng = random.Random(f"mimicry:organism:mix:{seed}")
    minimal = minimal_examples(table)
    rereading = rereading_examples(table, passes)
    chosen = []
    for row, short, long in zip(table.itertuples(), minimal, rereading, strict=True):
        p = p_cued if rereading_cue(row.prompt) else 1.0 - p_cued
        chosen.append(long if rng.random() < p else short)
    return chosen
