"""The config's closed vocabularies (stages, conditions, positions, probe targets) and its base."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from mimicry.probes.config import PositionName, ProbeTarget

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
# Positions and probe targets belong to the probes layer; one definition, re-exported here.


__all__ = [
    "RL_CONDITIONS",
    "STAGE_NAMES",
    "AblationName",
    "ConditionName",
    "PositionName",
    "ProbeTarget",
    "RLConditionName",
    "StageName",
    "Strict",
]


class Strict(BaseModel):
    """Base for every section: unknown keys are errors (a misspelt option must not be ignored)."""

    model_config = ConfigDict(extra="forbid")
