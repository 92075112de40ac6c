"""Training and held-out items for the organism, drawn from the data package's task families.

Training items are sampled from each family's structured generator (the derivation steps come
with them); the held-out set is the data package's own `generate_items` table (with `feat_*`
work columns). No training item repeats a held-out prompt or a human-normed prompt, so both
evaluations measure generalisation.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from mimicry.distill.organism.scratchpad import format_scratchpad


@dataclass(frozen=True)
class TrainingItem:
    """One generated item with its derivation: what the teacher imitates."""

    family: str
    prompt: str
    answer: str
    steps: tuple[str, ...]

    def as_example(self) -> dict:
        """prompt / completion (scratchpad) / answer, the dict the trainers consume."""
        return {
            "prompt": self.prompt,
            "completion": format_scratchpad(self.steps, self.answer),
            "answer": self.answer,
            "family": self.family,
            "n_steps": len(self.steps),
        }


@dataclass
class CorpusCounts:
    """How many draws each family produced and why some were discarded (reported, never silent)."""

    kept: dict[str, int] = field(default_factory=dict)
    excluded: dict[tuple[str, str], int] = field(default_factory=dict)

    def exclude(self, family: str, reason: str) -> None:
        self.excluded[(family, reason)] = self.excluded.get((family, reason), 0) + 1


def family_seed(seed: int, family: str) -> int:
    """A per-family seed that does not depend on the order families are listed in."""
    return seed * 1_000_003 + zlib.crc32(family.encode())


def sample_training_items(
    families: Sequence,
    n_per_family: int,
    seed: int,
    *,
    forbidden_prompts: Iterable[str] = (),
    max_draws_factor: int = 20,
) -> tuple[list[TrainingItem], CorpusCounts]:
    """Draw `n_per_family` distinct items per family, skipping forbidden and repeated prompts."""
    forbidden = set(forbidden_prompts)
    items: list[TrainingItem] = []
    counts = CorpusCounts()
    for family in families:
        rng = random.Random(family_seed(seed, family.name))
        seen: set[str] = set()
        kept = 0
        for _ in range(n_per_family * max_draws_factor):
            if kept == n_per_family:
                break
            struct = family.sample(rng)
            prompt = family.render_prompt(struct)
            if prompt in forbidden:
                counts.exclude(family.name, "prompt of a held-out or human-normed item")
                continue
            if prompt in seen:
                counts.exclude(family.name, "repeated prompt")
                continue
            seen.add(prompt)
            steps = tuple(family.solution_steps(struct))
            items.append(TrainingItem(family.name, prompt, family.solve(struct), steps))
            kept += 1
        counts.kept[family.name] = kept
    return items, counts


def family_texts(families: Sequence) -> list[str]:
    """Each family's declared vocabulary, as texts for the tokenizer."""
    return [" ".join(sorted(family.vocabulary())) for family in families]


def item_texts(items: pd.DataFrame) -> list[str]:
    """Prompts and answers of an item table, as texts for the tokenizer."""
    return [*items["prompt"].astype(str), *items["answer"].astype(str)]
