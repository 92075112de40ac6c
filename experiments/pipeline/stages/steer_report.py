"""Stage builders: the steering test along the difficulty direction, and the report."""

from __future__ import annotations

from mimicry.data.errors import InputError
from mimicry.data.fileio import model_fingerprint
from mimicry.experiments.pipeline.models import (
    run_convention,
    write_roles,
)
from mimicry.experiments.pipeline.runner import RunContext, Unit
from mimicry.experiments.pipeline.stages.common import (
    model_sources,
    single_blas_thread,
    spec_of,
)


def steer_stage(ctx: RunContext) -> list[Unit]:
    options = ctx.config.steer
    sources = model_sources(ctx)
    if options.model not in sources:
        raise InputError(
            f"steer.model {options.model!r} is not a model of this run ({', '.join(sources)})",
            field="steer.model",
        )
    source = sources[options.model]
    items = ctx.run_dir / "items.csv"
    out = ctx.run_dir / "probes" / "steer.csv"
    generation = ctx.config.generate
    spec = spec_of(ctx, options.model)
    from mimicry.probes.steer import steer_layer

    layer = options.layer or steer_layer(ctx.run_dir, options.model, options.position)
    config = options.steer_config().model_copy(update={"layer": layer})
    convention = run_convention(ctx.config, options.model)  # as it generated its traces

    def run(step) -> None:
        from mimicry.probes.steer import steer_run

        steer_run(
            source,
            ctx.run_dir,
            config=config,
            out_path=out,
            name=options.model,
            max_new_tokens=generation.max_new_tokens,
            trust_remote_code=spec.trust_remote_code,
            remote=spec.remote,
            convention=convention,
            batch_size=generation.batch_size,
        )
        step()

    directions = ctx.run_dir / "probes" / "directions" / options.model
    return [
        Unit(
            options.model,
            [
                model_fingerprint(source),
                items,
                directions,
                options.model_dump(mode="json"),
                layer,
                convention.as_dict(),
                spec.remote,
                generation.max_new_tokens,
                generation.batch_size,
            ],
            [out],
            run,
            requires=[items, source],
        )
    ]


# --- report -----------------------------------------------------------------------------------


def report_stage(ctx: RunContext) -> list[Unit]:
    run_dir = ctx.run_dir
    write_roles(run_dir, ctx.config, ctx.organism_dir)
    inputs = [
        run_dir / "config.yaml",
        run_dir / "roles.json",
        run_dir / "items.csv",
        run_dir / "behaviour",
        run_dir / "entropy",
        *[p for p in sorted((run_dir / "probes").glob("*.csv"))],
        *sorted(p for p in run_dir.glob("*/*exclusions.csv") if p.parent.name != "report"),
        *sorted((run_dir / "traces").glob("*.jsonl")),
    ]

    def run(step) -> None:
        from mimicry.experiments.report import build_report

        with single_blas_thread():
            build_report(run_dir)
        step()

    out = run_dir / "report"
    return [Unit("report", inputs, [out / "index.html", out / "report.md"], run)]
