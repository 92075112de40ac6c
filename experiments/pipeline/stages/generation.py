"""Stage builders: the item tables, and the traces of every model (generate)."""

from __future__ import annotations

from pathlib import Path

from mimicry.data.fileio import model_fingerprint
from mimicry.experiments.pipeline.models import (
    distilled_conditions,
    run_convention,
    student_name,
)
from mimicry.experiments.pipeline.runner import RunContext, Unit
from mimicry.experiments.pipeline.stages.common import (
    model_sources,
    run_records,
    spec_of,
    trace_path,
    train_items_path,
)
from mimicry.probes.prompting import PromptConvention


def data_stage(ctx: RunContext) -> list[Unit]:
    tasks = ctx.config.tasks
    outputs = [
        ctx.run_dir / "items.csv",
        ctx.run_dir / "data" / "exclusions.csv",
        ctx.run_dir / "data" / "dropped_features.csv",
    ]
    if any(s.role == "train" for s in tasks.generated):
        outputs.append(ctx.run_dir / "train_items.csv")
    inputs = [tasks.model_dump(mode="json"), ctx.config.seed]
    if tasks.items_file is not None:
        inputs.append(Path(tasks.items_file))

    def run(step) -> None:
        from mimicry.experiments.pipeline.items import build_item_tables

        build_item_tables(ctx.config, ctx.run_dir, step=step)

    return [Unit("items", inputs, outputs, run)]


# --- generation -------------------------------------------------------------------------------


def _generate_unit(ctx: RunContext, name: str, source, items: Path, out: Path) -> Unit:
    options = ctx.config.generate
    spec = spec_of(ctx, name)
    if spec.traces is not None:
        return _copy_traces_unit(ctx, name, spec.traces, items, out)
    same_as = run_records(ctx)[name].same_as
    if same_as is not None:  # the very same model: its traces, generated once
        return _copy_traces_unit(ctx, name, out.with_name(f"{same_as}.jsonl"), items, out)
    convention = run_convention(ctx.config, name)

    def run(step) -> None:
        from mimicry.distill.generate import generate

        generate(
            source,
            items,
            out,
            config=options,
            name=name,
            device=spec.device,
            dtype=spec.dtype,
            trust_remote_code=spec.trust_remote_code,
            on_batch=lambda done, total: step(done, total),
            convention=convention,
        )

    inputs = [model_fingerprint(source), items, options.model_dump(mode="json"), ctx.config.seed]
    if convention != PromptConvention():
        inputs.append(convention.as_dict())
    return Unit(name, inputs, [out], run, requires=[items])


def _copy_traces_unit(ctx: RunContext, name: str, traces: Path, items: Path, out: Path) -> Unit:
    """Pre-generated traces stand in for generation: the lines of the run's items, renamed."""

    def run(step) -> None:
        from mimicry.experiments.pipeline.traces import copy_traces

        copy_traces(traces, items, out, name=name)
        step()

    return Unit(name, [traces, items], [out], run, requires=[items, traces])


def generate_stage(ctx: RunContext) -> list[Unit]:
    items = ctx.run_dir / "items.csv"
    sources = model_sources(ctx)
    published = [student_name(key) for key in ctx.config.models.students]
    units = [
        _generate_unit(ctx, name, sources[name], items, trace_path(ctx, name))
        for name in ("teacher", "base", *published)
    ]
    if "distill" in ctx.config.stages or "ablate" in ctx.config.stages:
        units.append(
            _generate_unit(
                ctx,
                "teacher",
                sources["teacher"],
                train_items_path(ctx),
                ctx.run_dir / "distill_traces" / "teacher.jsonl",
            )
        )
        units[-1].name = "teacher_on_train_items"
    return units


def generate_students_stage(ctx: RunContext) -> list[Unit]:
    items = ctx.run_dir / "items.csv"
    sources = model_sources(ctx)
    units = []
    for condition in distilled_conditions(ctx.config):
        name = student_name(condition)
        unit = _generate_unit(ctx, name, sources[name], items, trace_path(ctx, name))
        unit.requires = [items, sources[name]]
        units.append(unit)
    return units
