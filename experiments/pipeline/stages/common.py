"""What every stage builder shares: the run's models, their sources and specs, and file paths."""

from __future__ import annotations

from pathlib import Path

from mimicry.data.models import Roster
from mimicry.experiments.pipeline.models import (
    distilled_conditions,
    model_specs,
    resolve_source,
    run_roster,
    student_name,
)
from mimicry.experiments.pipeline.runner import RunContext


def role_source(ctx: RunContext, role: str) -> str | Path:
    return resolve_source(getattr(ctx.config.models, role), ctx.organism_dir)


def run_records(ctx: RunContext) -> Roster:
    return run_roster(ctx.config, ctx.organism_dir)


def spec_of(ctx: RunContext, model: str):
    """The ModelSpec whose loading options apply to `model` (distilled students: the base's)."""
    record = run_records(ctx)[model]
    return model_specs(ctx.config)[record.of or record.name]


def model_sources(ctx: RunContext) -> dict[str, str | Path]:
    """Every model of the run that has traces, by name."""
    organism_dir = ctx.organism_dir
    sources = {"teacher": role_source(ctx, "teacher"), "base": role_source(ctx, "base")}
    for condition in distilled_conditions(ctx.config):
        sources[student_name(condition)] = ctx.run_dir / "students" / condition
    for key, spec in ctx.config.models.students.items():
        sources[student_name(key)] = resolve_source(spec, organism_dir)
    return sources


def trace_path(ctx: RunContext, model: str) -> Path:
    return ctx.run_dir / "traces" / f"{model}.jsonl"


def train_items_path(ctx: RunContext) -> Path:
    """Distillation prompts: the generated training items, or the evaluated items when none."""
    path = ctx.run_dir / "train_items.csv"
    return (
        path
        if any(s.role == "train" for s in ctx.config.tasks.generated)
        else ctx.run_dir / "items.csv"
    )


def single_blas_thread():
    """Small dense solves (probes: 64-1536 dims) run fastest on one BLAS thread; several threads
    spin against each other and against other processes on a shared CPU (12x slower measured on
    2 busy cores). Scoped to the stage, no global setting."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
