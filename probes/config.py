"""The probe stages' options, one pydantic class per stage, each option once with its help text.

`ProbeConfig` is what `probe_layers`, `run_probes`, `mimicry probe` and the run config's `probe`
section all take; `EffortConfig` the same for the along-trace effort probes. This module imports
only pydantic, so the CLI can build its options from these classes without loading numpy.
"""

from __future__ import annotations

import math
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mimicry.data.errors import InputError

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
EffortTarget = Literal["remaining", "fraction", "difficulty"]

DEFAULT_ALPHAS = tuple(10.0**k for k in range(-2, 6))  # ridge: 1e-2 .. 1e5
DEFAULT_CS = tuple(10.0**k for k in range(-3, 2))  # logistic C: 1e-3 .. 10
DEFAULT_FRACTIONS = tuple(round(k / 10, 1) for k in range(11))

Config = TypeVar("Config", bound=BaseModel)


class StageConfig(BaseModel):
    """Base of a stage's options: unknown options are errors (a misspelt one is never ignored)."""

    model_config = ConfigDict(extra="forbid")


def resolve_config(cls: type[Config], config: Config | None, overrides: dict[str, Any]) -> Config:
    """`config` (default: `cls()`) with keyword overrides, validated; one `InputError` line
    naming the field when a value is refused."""
    if config is not None and not isinstance(config, cls):
        raise InputError(f"expected a {cls.__name__}, got {type(config).__name__}", field="config")
    if config is not None and not overrides:
        return config
    base = {} if config is None else config.model_dump(exclude_unset=False)
    try:
        return cls.model_validate({**base, **overrides})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        raise InputError(f"{message} (got {first.get('input')!r})", field=field) from None


def _positive_finite(values: tuple[float, ...], name: str) -> tuple[float, ...]:
    if not values:
        raise ValueError(f"give at least one {name} value")
    bad = [v for v in values if not math.isfinite(v) or v <= 0]
    if bad:
        raise ValueError(f"{name} must be positive finite numbers, got {bad[0]!r}")
    return values


class ProbeConfig(StageConfig):
    """Per-layer linear probes with baselines and control tasks (`probe_layers`, `run_probes`,
    `mimicry probe`, the run config's `probe` section)."""

    targets: list[ProbeTarget] = Field(
        default_factory=lambda: ["human_rt", "own_length", "correct", "difficulty_bin"],
        description="Probe targets (own_length, correct and the partial targets need traces).",
    )
    positions: list[str] | None = Field(
        None, description="Positions probed; null: every captured position."
    )
    folds: int = Field(5, ge=2, description="Outer grouped CV folds (also the inner folds).")
    seed: int = Field(
        0,
        description="Seed for splits, control tasks, permutations and bootstrap (run config: "
        "the run's seed).",
    )
    n_boot: int = Field(
        1000, ge=0, description="Bootstrap resamples of items for probe CIs (0: no CIs)."
    )
    n_perm: int = Field(200, gt=0, description="Within-task label permutations for p-values.")
    class_probe: Literal["ridge", "logistic"] = Field(
        "ridge",
        description="Probe of class targets (correct, difficulty_bin): 'ridge' (a ridge "
        "classifier on the class indicators, closed form: its controls and permutations cost "
        "a few matrix products) or 'logistic' (lbfgs, one refit per permutation).",
    )
    n_perm_logistic: int | None = Field(
        None,
        gt=0,
        description="Permutations for logistic class probes (each one is a refit); null: n_perm.",
    )
    n_jobs: int = Field(
        0,
        ge=0,
        description="Worker processes fitting layers in parallel (0: one per CPU core); "
        "results do not depend on it.",
    )
    n_control: int = Field(
        1, gt=0, description="Control tasks (labels shuffled within task) averaged."
    )
    alphas: tuple[float, ...] = Field(DEFAULT_ALPHAS, description="Ridge alphas (inner CV).")
    cs: tuple[float, ...] = Field(DEFAULT_CS, description="Logistic C values (inner CV).")

    @field_validator("alphas")
    @classmethod
    def _alphas(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        return _positive_finite(values, "alphas")

    @field_validator("cs")
    @classmethod
    def _cs(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        return _positive_finite(values, "cs")


class EffortConfig(StageConfig):
    """Per-token probes of the work left along each trace (`probe_effort`, `mimicry effort`, the
    run config's `effort` section); score: held-out R^2 of ridge, nested grouped CV."""

    fractions: tuple[float, ...] = Field(
        DEFAULT_FRACTIONS,
        description="Fractions of the trace read (0: the think-open token, 1: the last one); "
        "'none' on the command line: only --every.",
    )
    every: int = Field(0, ge=0, description="Also read every S-th trace token (0: off).")
    targets: tuple[EffortTarget, ...] = Field(
        ("remaining", "fraction", "difficulty"),
        description="Targets per position: tokens remaining, fraction done, human difficulty.",
    )
    folds: int = Field(5, ge=2, description="Outer grouped CV folds (an item never on both sides).")
    seed: int = Field(
        0, description="Seed for splits, control tasks and bootstrap (run config: the run's seed)."
    )
    n_boot: int = Field(300, gt=0, description="Bootstrap resamples of items for CIs.")
    n_control: int = Field(
        1, gt=0, description="Control tasks (labels permuted within task) averaged."
    )
    alphas: tuple[float, ...] = Field(DEFAULT_ALPHAS, description="Ridge alphas (inner CV).")
    bin_centers: tuple[float, ...] | None = Field(
        None,
        description="Fraction bins of the per-fraction curve (rows go to the nearest centre); "
        "null: the fractions read, or ten equal bins when only --every is read.",
    )

    @field_validator("fractions")
    @classmethod
    def _fractions_in_range(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        bad = [v for v in values if not (math.isfinite(v) and 0.0 <= v <= 1.0)]
        if bad:
            raise ValueError(f"fractions must lie in [0, 1], got {bad[0]!r}")
        return values

    @field_validator("alphas")
    @classmethod
    def _alphas(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        return _positive_finite(values, "alphas")

    @model_validator(mode="after")
    def _something_read(self) -> EffortConfig:
        if not self.fractions and not self.every:
            raise ValueError("give fractions, every > 0, or both")
        return self
