"""The options of each stage, one pydantic class per stage, each option once with its help text.

Each library's own classes live beside it, since `probes` and `distill` take them and may not
import `experiments`: `ProbeConfig`, `EffortConfig` (`mimicry.probes.config`), `GenerateConfig`,
`SFTConfig`, `RLConfig` (`mimicry.distill.config`), `CaptureConfig`, `AlongCaptureConfig`
(`mimicry.probes.capture.config`), `SteerConfig` (`mimicry.probes.steer_config`); they are re-exported here, and the run
config's sections extend them with what only the pipeline needs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from mimicry.distill.config import GenerateConfig, RLConfig, SFTConfig, StudentTraining
from mimicry.experiments.config.names import (
    RL_CONDITIONS,
    ConditionName,
    Strict,
)
from mimicry.probes.capture.config import AlongCaptureConfig, CaptureConfig
from mimicry.probes.config import EffortConfig, ProbeConfig
from mimicry.probes.steer_config import SteerConfig

RL_SHARED = tuple(StudentTraining.model_fields)
"""Options of `distill` that the RL students share unless `distill.rl` sets them."""

__all__ = [
    "AlongCaptureConfig",
    "BehaviourConfig",
    "CaptureConfig",
    "DistillConfig",
    "EffortConfig",
    "GenerateConfig",
    "ProbeConfig",
    "RLConfig",
    "ReportConfig",
    "RunCaptureConfig",
    "RunSteerConfig",
    "SFTConfig",
    "SteerConfig",
]


class DistillConfig(SFTConfig):
    """Students of the base: SFT on the teacher's traces, one per ablation set (the training
    options of each are `SFTConfig`'s), and RL students (`rl`, `RLConfig`).

    `lora`, `lora_r` and `seed` given here also apply to the RL students unless `rl` sets them.
    """

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
    rl: RLConfig = Field(default_factory=RLConfig, description="GRPO of the RL students.")

    @model_validator(mode="before")
    @classmethod
    def _shared_with_rl(cls, data: Any) -> Any:
        """The students' shared options (LoRA, seed) reach the RL students unless `rl` sets them."""
        if not isinstance(data, dict):
            return data
        shared = {k: data[k] for k in RL_SHARED if k in data}
        rl = data.get("rl", {})
        if not shared:
            return data
        if isinstance(rl, dict):
            return {**data, "rl": {**shared, **rl}}
        if isinstance(rl, BaseModel):
            unset = {k: v for k, v in shared.items() if k not in rl.model_fields_set}
            return {**data, "rl": rl.model_copy(update=unset)}
        return data

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


class RunCaptureConfig(CaptureConfig):
    """The run's capture: `CaptureConfig` for every model, plus which traces they read and the
    random-init baseline (pipeline choices)."""

    traces_from: str | None = Field(
        "teacher",
        description="Read every model on this model's traces (prompt + trace); null: prompt only.",
    )
    random_init_baseline: bool = Field(
        True, description="Also capture a random-init copy of the base, named base__random_init."
    )

    def captured_positions(self) -> tuple[str, ...]:
        """The positions every model's capture writes."""
        return self.positions_for(self.traces_from is not None)


class RunSteerConfig(SteerConfig):
    """The run's steering test: `SteerConfig` on one model of the run; its generation budget
    and batch are the `generate` section's (alpha = 0 reproduces the model's traces)."""

    model: str = Field(
        "student_original", description="Model steered (a model name of this run, e.g. teacher)."
    )

    def steer_config(self) -> SteerConfig:
        """The library's options (without the run's model name)."""
        return SteerConfig(**self.model_dump(include=set(SteerConfig.model_fields)))


class ReportConfig(Strict):
    """The final report."""

    title: str = Field("mimicry report", description="Report title.")
    n_boot: int = Field(1000, gt=0, description="Bootstrap resamples for entropy-difficulty CIs.")
    n_perm: int = Field(1000, gt=0, description="Permutations for entropy-difficulty p-values.")
