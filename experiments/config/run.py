"""The whole study's config: models, items and every stage's options, checked together."""

from __future__ import annotations

import yaml
from pydantic import Field, field_validator, model_validator

from mimicry.data.models import student_name
from mimicry.experiments.config.inputs import ModelsConfig, TasksConfig
from mimicry.experiments.config.names import STAGE_NAMES, StageName, Strict
from mimicry.experiments.config.stage_options import (
    BehaviourConfig,
    CaptureConfig,
    DistillConfig,
    EffortStageConfig,
    GenerateConfig,
    ProbeConfig,
    ReportConfig,
    SteerConfig,
)


class RunConfig(Strict):
    """A whole study: models, items, and the options of every stage."""

    name: str = Field("run", description="Run name (default output folder runs/<name>).")
    seed: int = Field(0, description="Seed for every random choice of the run.")
    threads: int | None = Field(
        None,
        gt=0,
        description="CPU threads for torch and BLAS during the run (null: library defaults). "
        "1 is fastest for small models on a shared CPU: several threads spin against each other.",
    )
    tasks: TasksConfig = Field(default_factory=TasksConfig, description="Items.")
    models: ModelsConfig = Field(default_factory=ModelsConfig, description="Models.")
    generate: GenerateConfig = Field(default_factory=GenerateConfig, description="Generation.")
    distill: DistillConfig = Field(default_factory=DistillConfig, description="Distillation.")
    behaviour: BehaviourConfig = Field(default_factory=BehaviourConfig, description="Behaviour.")
    capture: CaptureConfig = Field(default_factory=CaptureConfig, description="Capture.")
    probe: ProbeConfig = Field(default_factory=ProbeConfig, description="Probes.")
    effort: EffortStageConfig = Field(
        default_factory=EffortStageConfig, description="Remaining-effort probes along traces."
    )
    steer: SteerConfig = Field(default_factory=SteerConfig, description="Steering.")
    report: ReportConfig = Field(default_factory=ReportConfig, description="Report.")
    stages: list[StageName] = Field(
        default_factory=lambda: list(STAGE_NAMES), description="Stages run, in pipeline order."
    )

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, name: str) -> str:
        if (
            not name.strip()
            or name in (".", "..")
            or "/" in name
            or "\\" in name
            or name.startswith("~")
            or any(ord(c) < 32 for c in name)
        ):
            raise ValueError(
                f"name {name!r} must be a plain folder name (it names runs/<name>; no '/', '..')"
            )
        return name

    def model_names(self) -> list[str]:
        """Every model name of the run (teacher, base, distilled and published students)."""
        names = ["teacher", "base"]
        if "distill" in self.stages:
            names += [student_name(c) for c in self.distill.conditions]
        names += [student_name(key) for key in self.models.students]
        return names

    @model_validator(mode="after")
    def _student_names_unique(self) -> RunConfig:
        if "distill" in self.stages:
            clash = sorted(set(self.models.students) & set(self.distill.conditions))
            if clash:
                raise ValueError(
                    f"models.students key {clash[0]!r} is also a distill condition "
                    "(both would be named student_" + clash[0] + ")"
                )
        return self


def with_reduced_statistics(config: RunConfig, *, steer_items: int) -> RunConfig:
    """The same study with few resamples, two probe folds and the ridge targets only, so a
    handful of items still runs every stage (CPU checks of the real-model configs); the
    model-bound stages (generate, capture) are left as they are."""
    return config.model_copy(
        update={
            "behaviour": config.behaviour.model_copy(
                update={"n_boot": 20, "n_perm": 20, "min_items": 3}
            ),
            "probe": config.probe.model_copy(
                update={
                    "targets": ["human_rt", "own_length"],
                    "folds": 2,
                    "n_perm": 3,
                    "n_boot": 10,
                }
            ),
            "report": config.report.model_copy(update={"n_boot": 20, "n_perm": 20}),
            "steer": config.steer.model_copy(update={"n_boot": 20, "n_items": steer_items}),
        }
    )


def dump_config(config: RunConfig) -> str:
    """The fully resolved config as YAML (what `RUN/config.yaml` records)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
