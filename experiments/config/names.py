"""The config's closed vocabularies (stages, conditions, positions, probe targets) and its base."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

StageName = Literal[
    "data",
    "generate",
    "ablate",
    "distill",
    "generate_students",
    "behaviour",
    "capture",
    "probe",
    "effort",
    "compare",
    "steer",
    "report",
]
STAGE_NAMES: tuple[str, ...] = get_args(StageName)  # pipeline order, one source of truth
AblationName = Literal[
    "original", "format_fixed_content_varied", "content_fixed_format_varied", "length_matched"
]
# RL conditions: GRPO with the teacher's reward (correct - cost per reasoning token), no traces.
RLConditionName = Literal["rl", "sft_then_rl"]
RL_CONDITIONS: tuple[str, ...] = get_args(RLConditionName)
ConditionName = Literal[
    "original",
    "format_fixed_content_varied",
    "content_fixed_format_varied",
    "length_matched",
    "rl",
    "sft_then_rl",
]
PositionName = Literal["last_prompt", "mean_prompt", "mean_trace", "think_open"]
ProbeTarget = Literal[
    "human_rt",
    "human_acc",
    "own_length",
    "correct",
    "difficulty_bin",
    "human_rt_partial_own_length",
    "own_length_partial_human_rt",
]


class Strict(BaseModel):
    """Base for every section: unknown keys are errors (a misspelt option must not be ignored)."""

    model_config = ConfigDict(extra="forbid")
