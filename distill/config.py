"""The distill stages' options, one pydantic class per stage, each option once with its help text.

`GenerateConfig` is what `generate`, `mimicry generate` and the run config's `generate` section
take; `SFTConfig` the same for one SFT student (`train_student`, `mimicry distill`, the run
config's `distill` section extends it with the conditions) and `RLConfig` for one GRPO student
(`train_rl_student`, `mimicry rl`, the run config's `distill.rl`). The prompt convention (style,
think tags) is the model's, not a stage option: the functions take it beside the config. This
module imports only pydantic, so the CLI builds its options from it without loading torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mimicry.probes.config import StageConfig, resolve_config

__all__ = ["GenerateConfig", "RLConfig", "SFTConfig", "StudentTraining", "resolve_config"]


class GenerateConfig(StageConfig):
    """Sampling of reasoning traces (teacher, base and students): `generate`, `mimicry
    generate`, the run config's `generate` section."""

    samples: int = Field(1, gt=0, description="Samples per item.")
    max_new_tokens: int = Field(128, gt=0, description="Generation budget per sample.")
    temperature: float = Field(
        0.0, ge=0.0, allow_inf_nan=False, description="0: greedy; > 0: seeded sampling."
    )
    batch_size: int = Field(16, gt=0, description="Prompts per generation batch.")
    seed: int = Field(
        0, description="Seed of the sampling, each batch its own (run config: the run's seed)."
    )
    backend: Literal["hf", "vllm"] = Field(
        "hf", description="Generation backend (vllm: GPU, optional extra)."
    )


class StudentTraining(StageConfig):
    """What every trained student shares: full fine-tuning or LoRA, and the seed."""

    lora: bool = Field(
        False, description="Train a LoRA adapter (merged on save) instead of full fine-tuning."
    )
    lora_r: int = Field(8, gt=0, description="LoRA rank.")
    seed: int = Field(
        0, description="Seed of init, data order and dropout (run config: the run's seed)."
    )


class SFTConfig(StudentTraining):
    """SFT of one student on one ablation set: `train_student`, `mimicry distill`, the run
    config's `distill` section."""

    epochs: float = Field(1.0, gt=0, allow_inf_nan=False, description="Epochs over the set.")
    max_steps: int | None = Field(
        None, gt=0, description="Cap on optimiser steps (overrides epochs when set)."
    )
    learning_rate: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Peak learning rate; null: 2e-4 with LoRA, 5e-5 for full fine-tuning.",
    )
    batch_size: int = Field(8, gt=0, description="Per-device batch size.")
    grad_accum: int = Field(1, gt=0, description="Gradient accumulation steps.")
    max_length: int = Field(
        1024, gt=0, description="Longer sequences are truncated (the start is kept)."
    )
    save_steps: int = Field(
        50, gt=0, description="Checkpoint every N steps (resume point after a kill)."
    )
    lora_alpha: int | None = Field(None, gt=0, description="LoRA alpha; null: 2 x lora_r.")

    @property
    def lr(self) -> float:
        """The learning rate used: the given one, else the LoRA / full fine-tuning default."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 2e-4 if self.lora else 5e-5


class RLConfig(StudentTraining):
    """GRPO of one student with the teacher's reward (correct minus a cost per reasoning
    token): `train_rl_student`, `mimicry rl`, the run config's `distill.rl`."""

    max_steps: int = Field(60, gt=0, description="GRPO optimiser steps.")
    learning_rate: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="GRPO learning rate; null: 1e-4 with LoRA, 2e-5 for full fine-tuning.",
    )
    batch_size: int = Field(
        16, gt=0, description="Completions per step (a multiple of num_generations)."
    )
    num_generations: int = Field(4, ge=2, description="Completions per prompt (GRPO group).")
    max_completion_length: int = Field(256, gt=0, description="Longest sampled completion.")
    cost_per_token: float = Field(
        0.004,
        ge=0,
        allow_inf_nan=False,
        description="Reward lost per reasoning token (the teacher's reward).",
    )
    temperature: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="Sampling temperature of the rollouts."
    )
    beta: float = Field(
        0.0, ge=0, allow_inf_nan=False, description="KL penalty towards the start model."
    )

    @property
    def lr(self) -> float:
        """The learning rate used: the given one, else the LoRA / full fine-tuning default."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 1e-4 if self.lora else 2e-5

    @model_validator(mode="after")
    def _groups(self) -> RLConfig:
        if self.batch_size % self.num_generations:
            raise ValueError(
                f"batch_size {self.batch_size} must be a multiple of num_generations "
                f"{self.num_generations} (GRPO groups)"
            )
        return self
