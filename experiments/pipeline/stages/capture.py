"""Stage builder: per-layer activations and attention entropy of every model, random-init
baselines, and models that share another one's capture."""

from __future__ import annotations

from mimicry.data.fileio import model_fingerprint
from mimicry.experiments.pipeline.models import (
    link_activations,
    link_file,
    make_random_init,
    run_convention,
)
from mimicry.experiments.pipeline.runner import RunContext, Unit
from mimicry.experiments.pipeline.stages.common import (
    model_sources,
    run_records,
    spec_of,
    trace_path,
)
from mimicry.probes.prompting import PromptConvention


def _capture_unit(ctx: RunContext, name: str, source, spec) -> Unit:
    options = ctx.config.capture
    items = ctx.run_dir / "items.csv"
    traces = trace_path(ctx, options.traces_from) if options.traces_from else None
    out = ctx.run_dir / "activations" / name
    convention = run_convention(ctx.config, name)
    reading = {} if convention == PromptConvention() else convention.as_dict()

    def run(step) -> None:
        from mimicry.probes.capture import capture_run

        capture_run(
            source,
            items,
            ctx.run_dir,
            name=name,
            config=options,
            traces=traces,
            trace_model=options.traces_from,
            dtype=spec.dtype,
            device=spec.device,
            remote=spec.remote,
            trust_remote_code=spec.trust_remote_code,
            revision=spec.revision,
            on_shard=lambda done, total: step(done + 1, total),
            template=convention,  # as the model generated
        )

    outputs = [out / "manifest.json"]
    if options.entropy and spec.remote == "no":  # remote runs capture residuals only
        outputs.append(ctx.run_dir / "entropy" / f"{name}.csv")
    inputs = [model_fingerprint(source), items, traces, options.model_dump(mode="json")]
    if reading or spec.remote != "no" or spec.device != "cpu":
        inputs.append({**reading, "remote": spec.remote, "device": spec.device})
    return Unit(
        name,
        inputs,
        outputs,
        run,
        requires=[items, *([traces] if traces else [])],
    )


def _shared_unit(ctx: RunContext, name: str, shared_name: str, entropy: bool) -> Unit:
    """A model that shares another one's capture (hard links, manifest renamed)."""
    root = ctx.run_dir / "activations"
    shared, target = root / shared_name, root / name
    outputs = [target / "manifest.json"]
    entropy_from = ctx.run_dir / "entropy" / f"{shared_name}.csv"
    entropy_to = ctx.run_dir / "entropy" / f"{name}.csv"
    if entropy:
        outputs.append(entropy_to)

    def run(step) -> None:
        link_activations(shared, target, name)
        if entropy and entropy_from.is_file():
            link_file(entropy_from, entropy_to)

    return Unit(name, [shared], outputs, run, requires=[shared / "manifest.json"])


def capture_stage(ctx: RunContext) -> list[Unit]:
    sources = model_sources(ctx)
    roster = run_records(ctx)
    entropy = ctx.config.capture.entropy
    units = []
    for record in roster:
        spec = spec_of(ctx, record.name)
        if not spec.activations:
            continue
        if record.same_as is not None:  # random-init copies share residuals only, as before
            shares_entropy = entropy and not record.random_init
            units.append(_shared_unit(ctx, record.name, record.same_as, shares_entropy))
        elif not record.random_init:
            units.append(_capture_unit(ctx, record.name, sources[record.name], spec))
        else:
            units.append(_random_init_unit(ctx, record.name, record.of, sources[record.of], spec))
    return units


def _random_init_unit(ctx: RunContext, name: str, of: str, source, spec) -> Unit:
    """A random-init copy of `of`'s architecture (same config and tokenizer), then its capture."""
    folder = ctx.run_dir / "models" / name
    # a random-init copy is a local folder: NDIF cannot run it, this machine can
    if spec.remote == "ndif":
        spec = spec.model_copy(update={"remote": "no"})
    unit = _capture_unit(ctx, name, folder, spec)
    capture_run = unit.run

    def run(step) -> None:
        make_random_init(
            source, folder, seed=ctx.config.seed, trust_remote_code=spec.trust_remote_code
        )
        capture_run(step)

    unit.inputs = [model_fingerprint(source), *unit.inputs[1:], ctx.config.seed]
    unit.run = run
    return unit
