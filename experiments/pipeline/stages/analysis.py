"""Stage builders: behavioural alignment, probes, remaining effort and the comparison."""

from __future__ import annotations

from mimicry.data.errors import InputError
from mimicry.experiments.pipeline.models import (
    write_roles,
)
from mimicry.experiments.pipeline.runner import RunContext, Unit
from mimicry.experiments.pipeline.stages.common import (
    model_sources,
    run_records,
    single_blas_thread,
    trace_path,
)


def behaviour_stage(ctx: RunContext) -> list[Unit]:
    items = ctx.run_dir / "items.csv"
    models = [m for m in model_sources(ctx) if trace_path(ctx, m).is_file()]
    if not models:
        raise InputError(
            "no trace files; run the generate stage first", file=ctx.run_dir / "traces"
        )
    traces = [trace_path(ctx, m) for m in models]
    students = [r.name for r in run_records(ctx).students()]
    pairs = [f"{m}=base" for m in models if m in students and "base" in models]
    options = ctx.config.behaviour
    out = ctx.run_dir / "behaviour"

    def run(step) -> None:
        from mimicry.experiments.behaviour import score

        with single_blas_thread():
            score(
                items,
                traces,
                out,
                pairs=pairs,
                options=options,
                reference=options.reference if options.reference in models else None,
                progress=lambda _message: step(),
            )

    return [
        Unit(
            "alignment",
            [items, *traces, pairs, options.model_dump(mode="json"), ctx.config.seed],
            [
                out / "alignment.csv",
                out / "summary.csv",
                out / "transfer.csv",
                out / "inflation.csv",
                out / "wrong_right.csv",
            ],
            run,
            requires=[items],
        )
    ]


def probe_stage(ctx: RunContext) -> list[Unit]:
    options = ctx.config.probe
    items = ctx.run_dir / "items.csv"
    roles_path = write_roles(ctx.run_dir, ctx.config, ctx.organism_dir)
    out = ctx.run_dir / "probes"

    def run(step) -> None:
        from mimicry.probes.probing import run_probes

        with single_blas_thread():
            run_probes(ctx.run_dir, config=options, progress=lambda _message: step())

    return [
        Unit(
            "probes",
            [
                items,
                ctx.run_dir / "activations",
                ctx.run_dir / "traces",
                roles_path,
                options.model_dump(mode="json"),
                ctx.config.seed,
            ],
            [out / "probes.csv", out / "compare.csv", out / "predictions.csv"],
            run,
            requires=[items, ctx.run_dir / "activations"],
        )
    ]


def effort_stage(ctx: RunContext) -> list[Unit]:
    """Remaining-effort probes along the traces of every captured model (`mimicry effort`)."""
    options = ctx.config.effort
    out = ctx.run_dir / "effort"

    def run(step) -> None:
        from mimicry.experiments.commands.effort_cmd import effort_run
        from mimicry.probes.capture.config import AlongCaptureConfig

        with single_blas_thread():
            effort_run(
                ctx.run_dir,
                config=options,
                models=None,
                teacher=None,
                sources=None,
                # the capture stage's batch (0, chosen from memory there: one item at a time)
                along=AlongCaptureConfig(batch_size=max(1, ctx.config.capture.batch_size)),
                random_init=ctx.config.capture.random_init_baseline,
                dtype="float32",
                device="cpu",
                trust_remote_code=False,
                say=lambda _message: step(),
            )

    return [
        Unit(
            "effort",
            [
                ctx.run_dir / "items.csv",
                ctx.run_dir / "traces",
                ctx.run_dir / "activations",
                options.model_dump(mode="json"),
                ctx.config.seed,
            ],
            [out / "effort.csv"],
            run,
            requires=[ctx.run_dir / "items.csv", ctx.run_dir / "activations"],
        )
    ]


def compare_stage(ctx: RunContext) -> list[Unit]:
    """CKA and direction cosines are computed by the probe stage (same activations pass)."""
    compare = ctx.run_dir / "probes" / "compare.csv"

    def run(step) -> None:
        if not compare.is_file():
            raise InputError("compare.csv missing; run the probe stage", file=ctx.run_dir)

    # No outputs of its own: compare.csv belongs to the probe unit (`--force` deletes outputs).
    return [Unit("cka_directions", [compare], [], run, requires=[compare])]
