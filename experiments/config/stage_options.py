"""The options of each stage, one pydantic class per stage, each option once with its help text.

The probe stages' classes (`ProbeConfig`, `EffortConfig`) live in `mimicry.probes.config`, since
the probes library takes them and may not import `experiments`; they are re-exported here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mimicry.experiments.config.names import (
    RL_CONDITIONS,
    ConditionName,
    PositionName,
    Strict,
)
from mimicry.probes.config import EffortConfig, ProbeConfig

__all__ = [
    "BehaviourConfig",
    "CaptureConfig",
    "DistillConfig",
    "EffortConfig",
    "GenerateConfig",
    "ProbeConfig",
    "RLConfig",
    "ReportConfig",
    "SteerConfig",
]


class GenerateConfig(Strict):
    """Sampling of reasoning traces (teacher, base and students)."""

    samples: int = Field(1, gt=0, description="Samples per item.")
    max_new_tokens: int = Field(128, gt=0, description="Generation budget per sample.")
    temperature: float = Field(0.0, ge=0.0, description="0 means greedy decoding.")
    batch_size: int = Field(16, gt=0, description="Prompts per generation batch.")
    backend: Literal["hf", "vllm"] = Field("hf", description="Generation backend.")


class RLConfig(Strict):
    """GRPO of the RL students (`rl`: the base; `sft_then_rl`: the original SFT student)."""

    max_steps: int = Field(60, gt=0, description="GRPO optimiser steps.")
    learning_rate: float = Field(2e-5, gt=0, description="GRPO learning rate.")
    batch_size: int = Field(
        16, gt=0, description="Completions per step (a multiple of num_generations)."
    )
    num_generations: int = Field(4, ge=2, description="Completions per prompt (GRPO group).")
    max_completion_length: int = Field(256, gt=0, description="Longest sampled completion.")
    cost_per_token: float = Field(
        0.004, ge=0, description="Reward lost per reasoning token (the teacher's reward)."
    )
    temperature: float = Field(1.0, gt=0, description="Sampling temperature of the rollouts.")

    @model_validator(mode="after")
    def _groups(self) -> RLConfig:
        if self.batch_size % self.num_generations:
            raise ValueError(
                f"batch_size {self.batch_size} must be a multiple of num_generations "
                f"{self.num_generations}"
            )
        return self


class DistillConfig(Strict):
    """Students of the base: SFT on the teacher's traces, one per ablation set, and RL students."""

    conditions: list[ConditionName] = Field(
        default_factory=lambda: [
            "original",
            "format_fixed_content_varied",
            "content_fixed_format_varied",
            "length_matched",
        ],
        description="Ablation sets, one SFT student each; `rl` and `sft_then_rl` add GRPO "
        "students (the base by RL alone, and student_original followed by the same RL).",
    )
    epochs: float = Field(1.0, gt=0, description="SFT epochs over the ablation set.")
    max_steps: int | None = Field(
        None, gt=0, description="Cap on optimiser steps (overrides epochs when set)."
    )
    learning_rate: float = Field(5e-4, gt=0, description="Peak learning rate.")
    batch_size: int = Field(8, gt=0, description="Per-step batch size.")
    lora: bool = Field(
        False, description="Train a LoRA adapter (merged on save) instead of full FT."
    )
    lora_r: int = Field(8, gt=0, description="LoRA rank.")
    save_steps: int = Field(
        50, gt=0, description="Checkpoint every N steps (resume point after a kill)."
    )
    rl: RLConfig = Field(default_factory=RLConfig, description="GRPO of the RL students.")

    @model_validator(mode="after")
    def _rl_needs_original(self) -> DistillConfig:
        if "sft_then_rl" in self.conditions and "original" not in self.conditions:
            raise ValueError("condition sft_then_rl starts from student_original: add 'original'")
        return self

    @property
    def sft_conditions(self) -> list[str]:
        """The conditions trained by SFT on an ablation set."""
        return [c for c in self.conditions if c not in RL_CONDITIONS]


class BehaviourConfig(Strict):
    """Behavioural alignment of reasoning cost with human difficulty: the options of
    `mimicry behaviour`, of `score`/`alignment`, and of the run config's `behaviour` section."""

    seed: int = Field(
        0, description="Seed of the bootstrap and permutation draws (run config: the run's seed)."
    )
    n_boot: int = Field(2000, ge=10, description="Bootstrap resamples over items for CIs.")
    n_perm: int = Field(2000, ge=10, description="Permutations for the p-values.")
    log_cost: bool = Field(False, description="Cost = mean of log(1 + tokens), not mean tokens.")
    difficulty: Literal["auto", "rt", "error"] = Field(
        "auto",
        description="Human difficulty: 'auto' (per task, RT where the task has RT norms, else "
        "1 - accuracy), 'rt' (human RT in ms) or 'error' (1 - human accuracy).",
    )
    reference: str | None = Field(
        None,
        description="Model whose item-wise cost the others are compared with (inflation.csv: "
        "ratio k and its dependence on difficulty); null: no inflation rows.",
    )
    min_items: int = Field(
        5, ge=3, description="Tasks with fewer usable items are left out (counted)."
    )
    outliers: Literal["none", "cooks"] = Field(
        "none", description="Outlier rule ('cooks': drop items with Cook's D > 4/n, counted)."
    )
    level: float = Field(0.95, gt=0, lt=1, description="Confidence level of the intervals.")
    figures: bool = Field(True, description="Write a scatter per model x task.")


class CaptureConfig(Strict):
    """Per-layer activations and attention entropy."""

    positions: list[PositionName] = Field(
        default_factory=lambda: ["last_prompt", "mean_prompt", "mean_trace", "think_open"],
        description="Token positions whose residual stream is saved.",
    )
    batch_size: int = Field(
        16, ge=0, description="Items per forward pass; 0 chooses it from free GPU memory or RAM."
    )
    backend: Literal["nnsight", "transformer_lens"] = Field(
        "nnsight", description="Capture backend."
    )
    shard_size: int = Field(
        256, gt=0, description="Items per resumable shard (a killed capture resumes at a shard)."
    )
    traces_from: str | None = Field(
        "teacher",
        description="Read every model on this model's traces (prompt + trace); null: prompt only.",
    )
    entropy: bool = Field(True, description="Also write attention entropy per layer and head.")
    random_init_baseline: bool = Field(
        True, description="Also capture a random-init copy of the base, named base__random_init."
    )


class SteerConfig(Strict):
    """Causal test: add the difficulty direction during generation."""

    model: str = Field(
        "student_original", description="Model steered (a model name of this run, e.g. teacher)."
    )
    layer: int | None = Field(
        None,
        description="Activation layer (1..n_layers); null: the model's best human-RT probe layer.",
    )
    position: PositionName = Field(
        "last_prompt", description="Position whose difference-of-means direction is used."
    )
    n_boot: int = Field(1000, gt=0, description="Bootstrap resamples for the paired CIs.")
    alphas: list[float] = Field(
        default_factory=lambda: [-0.5, 0.0, 0.5],
        description="Steering strengths, in multiples of the layer's typical residual norm.",
    )
    n_items: int | None = Field(None, gt=0, description="Items steered (null: all).")

    @field_validator("alphas")
    @classmethod
    def _finite_alphas(cls, alphas: list[float]) -> list[float]:
        import math

        bad = [a for a in alphas if not math.isfinite(a)]
        if bad:
            raise ValueError(f"alphas must be finite numbers, got {bad[0]!r}")
        return alphas


class ReportConfig(Strict):
    """The final report."""

    title: str = Field("mimicry report", description="Report title.")
    n_boot: int = Field(1000, gt=0, description="Bootstrap resamples for entropy-difficulty CIs.")
    n_perm: int = Field(1000, gt=0, description="Permutations for entropy-difficulty p-values.")
