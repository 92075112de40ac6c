"""The steering test's options, each once with its help text: what `steer_run`, `mimicry steer`
and the run config's `steer` section take. Imports only pydantic (the CLI builds its options from
it without loading torch).

The generation budget and batch size are not here: steering at alpha = 0 must reproduce the
model's own traces, so they are the generate stage's (`GenerateConfig`), passed beside this.
"""

from __future__ import annotations

import math

from pydantic import Field, field_validator

from mimicry.probes.config import PositionName, StageConfig

__all__ = ["SteerConfig"]


class SteerConfig(StageConfig):
    """Causal test: add alpha x the difficulty direction at one layer during generation, and
    measure the change in reasoning length and accuracy against alpha = 0."""

    layer: int | None = Field(
        None,
        ge=1,
        description="Activation layer (1..n_layers: the output of decoder block L-1); null: the "
        "model's best human-RT probe layer in RUN/probes/probes.csv, else the middle one.",
    )
    position: PositionName = Field(
        "last_prompt", description="Position whose difference-of-means direction is used."
    )
    alphas: list[float] = Field(
        default_factory=lambda: [-0.5, 0.0, 0.5],
        description="Steering strengths, in multiples of the layer's typical residual norm "
        "(0 is always added: the comparison).",
    )
    n_items: int | None = Field(None, gt=0, description="Items steered, the first N (null: all).")
    n_boot: int = Field(1000, gt=0, description="Bootstrap resamples for the paired CIs.")
    seed: int = Field(
        0, description="Seed of the bootstrap and sign flips (run config: the run's seed)."
    )

    @field_validator("alphas")
    @classmethod
    def _finite_alphas(cls, alphas: list[float]) -> list[float]:
        if not alphas:
            raise ValueError("give at least one alpha")
        bad = [a for a in alphas if not math.isfinite(a)]
        if bad:
            raise ValueError(f"alphas must be finite numbers, got {bad[0]!r}")
        return alphas
