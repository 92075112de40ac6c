"""The run config: one YAML file, validated, whose field descriptions are the config's help text.

One pydantic class per stage (`stage_options`), the run's models and items (`inputs`), the whole
study (`run.RunConfig`), reading a YAML file with one-line errors (`loading`), and the help text
(`help`). Everything is importable from here.
"""

from mimicry.experiments.config.help import config_help
from mimicry.experiments.config.inputs import GeneratedSet, ModelsConfig, ModelSpec, TasksConfig
from mimicry.experiments.config.loading import load_config
from mimicry.experiments.config.names import (
    RL_CONDITIONS,
    STAGE_NAMES,
    AblationName,
    ConditionName,
    PositionName,
    ProbeTarget,
    RLConditionName,
    StageName,
    Strict,
)
from mimicry.experiments.config.run import RunConfig, dump_config, with_reduced_statistics
from mimicry.experiments.config.stage_options import (
    AlongCaptureConfig,
    BehaviourConfig,
    CaptureConfig,
    DistillConfig,
    EffortConfig,
    GenerateConfig,
    ProbeConfig,
    ReportConfig,
    RLConfig,
    RunCaptureConfig,
    RunSteerConfig,
    SFTConfig,
    SteerConfig,
)

__all__ = [
    "RL_CONDITIONS",
    "STAGE_NAMES",
    "AblationName",
    "AlongCaptureConfig",
    "BehaviourConfig",
    "CaptureConfig",
    "ConditionName",
    "DistillConfig",
    "EffortConfig",
    "GenerateConfig",
    "GeneratedSet",
    "ModelSpec",
    "ModelsConfig",
    "PositionName",
    "ProbeConfig",
    "ProbeTarget",
    "RLConditionName",
    "RLConfig",
    "ReportConfig",
    "RunCaptureConfig",
    "RunConfig",
    "RunSteerConfig",
    "SFTConfig",
    "StageName",
    "SteerConfig",
    "Strict",
    "TasksConfig",
    "config_help",
    "dump_config",
    "load_config",
    "with_reduced_statistics",
]
