"""What every ablation set builder shares: the SFT example and the build context."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from mimicry.data.exclusions import Exclusions
from mimicry.distill.ablate.inputs import STAGE, TeacherTrace
from mimicry.distill.ablate.measure import TokenMeasure


@dataclass(frozen=True)
class Example:
    """One SFT example: the teacher trace it came from and the (possibly ablated) reasoning."""

    source: TeacherTrace
    reasoning: str
    info: dict = field(default_factory=dict, compare=False)

    @property
    def item_id(self) -> str:
        return self.source.item_id

    def completion(self, open_tag: str = "<think>", close_tag: str = "</think>") -> str:
        """`<think> reasoning </think> answer`, the form the organism and tiny models write."""
        return f"{open_tag} {self.reasoning} {close_tag} {self.source.answer}"


@dataclass
class BuildContext:
    """Tokenizer measure, seeded RNG and exclusions ledger for one set."""

    name: str
    measure: TokenMeasure
    seed: int
    exclusions: Exclusions
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.name}:{self.seed}")

    def exclude(self, trace: TeacherTrace, reason: str) -> None:
        """Count one trace left out of this set."""
        self.exclusions.add(
            STAGE,
            f"{self.name}:{reason}",
            model=trace.model,
            task=trace.task,
            example=trace.item_id,
        )
