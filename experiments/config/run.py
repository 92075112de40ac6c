"""The whole study's config: models, items and every stage's options, checked together."""

from __future__ import annotations

from typing import Any, get_args

import yaml
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from mimicry.data.models import student_name
from mimicry.experiments.config.inputs import ModelsConfig, TasksConfig
from mimicry.experiments.config.names import STAGE_NAMES, PositionName, StageName, Strict
from mimicry.experiments.config.stage_options import (
    BehaviourConfig,
    DistillConfig,
    EffortConfig,
    GenerateConfig,
    ProbeConfig,
    ReportConfig,
    RunCaptureConfig,
    RunSteerConfig,
)

SEEDED_SECTIONS = ("generate", "distill", "behaviour", "probe", "effort", "steer")
"""Sections with a `seed` option; where a config leaves it out, it is the run's `seed`."""


class FieldProblem(ValueError):
    """A whole-config check that names the dotted field at fault (`load_config` reports its
    YAML line)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RunConfig(Strict):
    """A whole study: models, items, and the options of every stage.

    Everything a stage would check before it starts is checked here, when the config is built
    (from YAML or in Python): each stage's options, that `steer.model` and `behaviour.reference`
    are models of the run, that the probed positions are captured, and that `tasks.items_file`
    exists (relative paths, also of pre-generated `traces`, are resolved against the validation
    context's `base`: the YAML file's folder for `load_config`, else the working directory).
    """

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
    capture: RunCaptureConfig = Field(default_factory=RunCaptureConfig, description="Capture.")
    probe: ProbeConfig = Field(default_factory=ProbeConfig, description="Probes.")
    effort: EffortConfig = Field(
        default_factory=EffortConfig, description="Remaining-effort probes along traces."
    )
    steer: RunSteerConfig = Field(default_factory=RunSteerConfig, description="Steering.")
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

    @model_validator(mode="before")
    @classmethod
    def _stage_seeds(cls, data: Any) -> Any:
        """A section's seed defaults to the run's, so every random choice follows `seed`."""
        if not isinstance(data, dict):
            return data
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            return data  # the seed's own error is reported
        data = dict(data)
        for section in SEEDED_SECTIONS:
            value = data.get(section, {})
            if isinstance(value, dict) and "seed" not in value:
                data[section] = {**value, "seed": seed}
            elif isinstance(value, BaseModel) and "seed" not in value.model_fields_set:
                data[section] = value.model_copy(update={"seed": seed})
        return data

    @model_validator(mode="after")
    def _files_exist(self, info: ValidationInfo) -> RunConfig:
        from pathlib import Path

        base = Path((info.context or {}).get("base", "."))
        items_file = self.tasks.items_file
        if items_file is not None:
            if not items_file.is_absolute():
                self.tasks.items_file = items_file = (base / items_file).resolve()
            if not items_file.is_file():
                raise FieldProblem("tasks.items_file", f"no such item table: {items_file}")
        for _, spec in self.models.named():
            # resolved, not required: a shipped config names the traces a user downloads later;
            # the generate stage says which file is missing
            if spec.traces is not None and not spec.traces.is_absolute():
                spec.traces = (base / spec.traces).resolve()
        return self

    @model_validator(mode="after")
    def _models_of_the_run(self) -> RunConfig:
        names = self.model_names()
        if "steer" in self.stages and self.steer.model not in names:
            raise FieldProblem(
                "steer.model",
                f"{self.steer.model!r} is not a model of this run ({', '.join(names)})",
            )
        reference = self.behaviour.reference
        if "behaviour" in self.stages and reference is not None and reference not in names:
            raise FieldProblem(
                "behaviour.reference",
                f"{reference!r} is not a model of this run ({', '.join(names)})",
            )
        return self

    @model_validator(mode="after")
    def _probed_positions_exist(self) -> RunConfig:
        known = get_args(PositionName)
        captured = self.capture.captured_positions() if "capture" in self.stages else known
        for k, position in enumerate(self.probe.positions or ()):
            if position not in captured:
                raise FieldProblem(
                    f"probe.positions.{k}",
                    f"position {position!r} is not captured (capture.positions: "
                    f"{', '.join(captured)})",
                )
        return self

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
