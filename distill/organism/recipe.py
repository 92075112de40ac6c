"""The organism recipe's settings: one full preset (the shipped weights) and one quick preset (tests)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mimicry.distill.organism.architecture import QUICK_SIZE, TEACHER_SIZE, ModelSize
from mimicry.distill.organism.teacher_rl import RLSettings
from mimicry.distill.organism.teacher_sft import SFTSettings


@dataclass(frozen=True)
class Recipe:
    """Everything that shapes the trained organism besides the seed.

    Phases: `competence` (SFT on minimal scratchpads from random init: the model learns the
    tasks), then two branches from it. Teacher: `warm_start` (SFT on the per-item random mix of
    minimal and rereading scratchpads) then `rl` (GRPO, reward = correct - cost per reasoning
    token). Base: `base` (SFT on the rereading policy with `base_passes`, its fixed habit).
    """

    families: tuple[str, ...] = ("relational", "cardinal", "syllogistic", "propositional")
    # 20,000 items seen 3.2 times generalise better than 4,000 seen 16 times (same 8,000 steps):
    # held-out accuracy 0.91 vs 0.865, at training token accuracy 0.992 vs 0.996.
    n_train_per_family: int = 20000
    n_heldout_per_family: int = 50
    size: ModelSize = TEACHER_SIZE
    competence_sft: SFTSettings = field(
        default_factory=lambda: SFTSettings(epochs=3.2, learning_rate=2e-3, weight_decay=0.01)
    )
    # Rereading passes in the warm start's verbose form: rereading on exactly the cued items gives
    # r(len, steps) = 0.59 (simulated on 800 generated items), against 0.92 for minimal alone.
    reread_passes: int = 4
    # P(rereading) on cued items (1 - this on the others): greedy decoding follows the cue, and
    # sampling still meets the other format on every item, which GRPO needs to compare the two.
    reread_p_cued: float = 0.8
    warm_start_sft: SFTSettings = field(
        default_factory=lambda: SFTSettings(
            epochs=0.32, learning_rate=1e-3, weight_decay=0.01, max_length=400
        )
    )
    base_passes: int = 1
    base_sft: SFTSettings = field(
        default_factory=lambda: SFTSettings(
            epochs=0.2, learning_rate=1e-3, weight_decay=0.01, max_length=400
        )
    )
    rl: RLSettings = field(
        default_factory=lambda: RLSettings(
            max_steps=200,
            learning_rate=5e-5,
            batch_size=16,
            num_generations=4,
            max_completion_length=320,
            cost_per_token=0.004,
        )
    )
    max_new_tokens: int = 320
    eval_temperature: float = 1.0  # the sampled evaluation next to the greedy one
    sft_eval_every: int = 1000  # competence SFT steps between held-out evaluations (0: none)
    n_human_per_task: int | None = None  # None: every human-normed item

    def as_dict(self) -> dict:
        """Plain nested dict, for the weights card and metrics file."""
        return asdict(self)


FULL = Recipe()
QUICK = Recipe(
    n_train_per_family=24,
    n_heldout_per_family=4,
    size=QUICK_SIZE,
    competence_sft=SFTSettings(epochs=1.0, batch_size=16),
    warm_start_sft=SFTSettings(epochs=1.0, batch_size=16, max_length=400),
    base_sft=SFTSettings(epochs=1.0, batch_size=16, max_length=400),
    rl=RLSettings(max_steps=2, batch_size=4, num_generations=2, max_completion_length=24),
    max_new_tokens=24,
    sft_eval_every=0,
    n_human_per_task=4,
)
