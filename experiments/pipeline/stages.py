"""One small builder per stage: it names the stage's units, their inputs and outputs, and wraps the
stage function another package exposes. The runner does ordering, skipping and resuming.

Every builder reads the run folder, never in-memory results of an earlier stage, so any stage can
be re-run alone (`mimicry run CONFIG --only capture`).
"""

from __future__ import annotations

from pathlib import Path

from mimicry.data.errors import InputError
from mimicry.data.fileio import model_fingerprint
from mimicry.experiments.pipeline.models import (
    RANDOM_INIT_SUFFIX,
    distilled_conditions,
    link_activations,
    make_random_init,
    model_specs,
    prompt_options,
    resolve_source,
    run_convention,
    student_name,
    write_roles,
)
from mimicry.experiments.pipeline.runner import RunContext, Unit
from mimicry.probes.prompting import PromptConvention


def _source(ctx: RunContext, role: str) -> str | Path:
    return resolve_source(getattr(ctx.config.models, role), ctx.extra.get("organism_dir"))


def _spec(ctx: RunContext, model: str):
    """The ModelSpec whose loading options apply to `model` (distilled students: the base's)."""
    return model_specs(ctx.config)[model.removesuffix(RANDOM_INIT_SUFFIX)]


def model_sources(ctx: RunContext) -> dict[str, str | Path]:
    """Every model of the run that has traces, by name."""
    organism_dir = ctx.extra.get("organism_dir")
    sources = {"teacher": _source(ctx, "teacher"), "base": _source(ctx, "base")}
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


# --- data -------------------------------------------------------------------------------------


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
    spec = _spec(ctx, name)
    if spec.traces is not None:
        return _copy_traces_unit(ctx, name, spec.traces, items, out)
    convention = run_convention(ctx.config, name)

    def run(step) -> None:
        from mimicry.distill.generate import generate

        generate(
            source,
            items,
            out,
            name=name,
            samples=options.samples,
            temperature=options.temperature,
            max_new_tokens=options.max_new_tokens,
            batch_size=options.batch_size,
            seed=ctx.config.seed,
            backend=options.backend,
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


# --- distillation -----------------------------------------------------------------------------


def ablate_stage(ctx: RunContext) -> list[Unit]:
    traces = ctx.run_dir / "distill_traces" / "teacher.jsonl"
    items = train_items_path(ctx)
    conditions = ctx.config.distill.sft_conditions
    out = ctx.run_dir / "ablations"
    base = _source(ctx, "base")

    def run(step) -> None:
        from mimicry.distill.ablate import build_sets

        build_sets(traces, out, items=items, sets=conditions, seed=ctx.config.seed, tokenizer=base)
        step()

    return [
        Unit(
            "sets",
            [traces, items, conditions, ctx.config.seed, model_fingerprint(base)],
            [out / c / "train.jsonl" for c in conditions],
            run,
            requires=[traces, items],
        )
    ]


def distill_stage(ctx: RunContext) -> list[Unit]:
    options = ctx.config.distill
    base = _source(ctx, "base")
    prompting = prompt_options(ctx.config.models.base).generate
    units = []
    for condition in options.sft_conditions:
        data_dir = ctx.run_dir / "ablations" / condition
        out = ctx.run_dir / "students" / condition

        def run(step, data_dir=data_dir, out=out) -> None:
            from mimicry.distill.sft import train_student

            train_student(
                base,
                data_dir,
                out,
                epochs=options.epochs,
                max_steps=options.max_steps or -1,
                lr=options.learning_rate,
                batch_size=options.batch_size,
                lora=options.lora,
                lora_r=options.lora_r,
                save_steps=options.save_steps,
                seed=ctx.config.seed,
                trust_remote_code=ctx.config.models.base.trust_remote_code,
                prompt_style=prompting.get("prompt_style", "auto"),
                callbacks=[_checkpoint_callback(step)],
            )

        units.append(
            Unit(
                student_name(condition),
                [
                    data_dir / "train.jsonl",
                    model_fingerprint(base),
                    options.model_dump(mode="json"),
                    ctx.config.seed,
                ],
                [out / "config.json", out / "training_log.csv"],
                run,
                requires=[data_dir / "train.jsonl"],
            )
        )
    original = next((u for u in units if u.name == student_name("original")), None)
    for condition in ("rl", "sft_then_rl"):
        if condition in options.conditions:
            after = [] if condition == "rl" else ["after", *original.inputs]
            units.append(_rl_unit(ctx, condition, base, prompting, after))
    return units


def _rl_unit(ctx: RunContext, condition: str, base, prompting: dict, after: list) -> Unit:
    """GRPO student: `rl` starts from the base, `sft_then_rl` from student_original."""
    options = ctx.config.distill
    start = base if condition == "rl" else ctx.run_dir / "students" / "original"
    out = ctx.run_dir / "students" / condition
    items = train_items_path(ctx)
    rl = options.rl

    def run(step) -> None:
        from mimicry.distill.rl import RLOptions, train_rl_student

        train_rl_student(
            start,
            items,
            out,
            RLOptions(
                max_steps=rl.max_steps,
                lr=rl.learning_rate,
                batch_size=rl.batch_size,
                num_generations=rl.num_generations,
                max_completion_length=rl.max_completion_length,
                temperature=rl.temperature,
                cost_per_token=rl.cost_per_token,
                lora=options.lora,
                lora_r=options.lora_r,
                seed=ctx.config.seed,
                prompt_style=prompting.get("prompt_style", "auto"),
                open_think=prompting.get("open_think", False),
                open_tag=prompting.get("open_tag", "<think>"),
                close_tag=prompting.get("close_tag", "</think>"),
            ),
            trust_remote_code=ctx.config.models.base.trust_remote_code,
            progress=lambda done, total: step(done, total),
        )

    # sft_then_rl depends on student_original through that unit's own inputs: the folder may not
    # exist yet when the stage is planned.
    start_inputs = after or [model_fingerprint(base)]
    return Unit(
        student_name(condition),
        [items, *start_inputs, rl.model_dump(mode="json"), options.lora, ctx.config.seed],
        [out / "config.json", out / "training_log.csv"],
        run,
        requires=[items, *([start / "config.json"] if condition == "sft_then_rl" else [])],
    )


def _checkpoint_callback(step):
    """A transformers callback reporting each saved checkpoint to the runner (resume points)."""
    from transformers import TrainerCallback

    class CheckpointStep(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            step()

    return CheckpointStep()


# --- behaviour --------------------------------------------------------------------------------


def behaviour_stage(ctx: RunContext) -> list[Unit]:
    items = ctx.run_dir / "items.csv"
    models = [m for m in model_sources(ctx) if trace_path(ctx, m).is_file()]
    if not models:
        raise InputError(
            "no trace files; run the generate stage first", file=ctx.run_dir / "traces"
        )
    traces = [trace_path(ctx, m) for m in models]
    pairs = [f"{m}=base" for m in models if m.startswith("student_") and "base" in models]
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
                seed=ctx.config.seed,
                n_boot=options.n_boot,
                n_perm=options.n_perm,
                log_cost=options.log_cost,
                difficulty=options.difficulty,
                reference=options.reference if options.reference in models else None,
                min_items=options.min_items,
                outliers=options.outliers,
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


# --- capture ----------------------------------------------------------------------------------


def _capture_unit(ctx: RunContext, name: str, source, spec) -> Unit:
    options = ctx.config.capture
    items = ctx.run_dir / "items.csv"
    traces = trace_path(ctx, options.traces_from) if options.traces_from else None
    out = ctx.run_dir / "activations" / name
    convention = run_convention(ctx.config, name)
    reading = {} if convention == PromptConvention() else convention.as_dict()

    def run(step) -> None:
        from mimicry.probes.capture import capture

        capture(
            source,
            items,
            ctx.run_dir,
            name=name,
            traces=traces,
            positions=list(options.positions),
            backend=options.backend,
            trace_model=options.traces_from,
            batch_size=options.batch_size,
            shard_size=options.shard_size,
            dtype=spec.dtype,
            device=spec.device,
            remote=spec.remote,
            trust_remote_code=spec.trust_remote_code,
            revision=spec.revision,
            entropy=options.entropy,
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


def capture_stage(ctx: RunContext) -> list[Unit]:
    sources = model_sources(ctx)
    captured = [name for name in sources if _spec(ctx, name).activations]
    units = [_capture_unit(ctx, name, sources[name], _spec(ctx, name)) for name in captured]
    if not ctx.config.capture.random_init_baseline:
        return units
    for role in ("teacher", "base"):
        if role not in captured:
            continue
        name = role + RANDOM_INIT_SUFFIX
        folder = ctx.run_dir / "models" / name
        # a random-init copy is a local folder: NDIF cannot run it, this machine can
        spec = getattr(ctx.config.models, role)
        if spec.remote == "ndif":
            spec = spec.model_copy(update={"remote": "no"})
        unit = _capture_unit(ctx, name, folder, spec)
        capture_run = unit.run

        def run(step, capture_run=capture_run, folder=folder, role=role, spec=spec) -> None:
            make_random_init(
                sources[role],
                folder,
                seed=ctx.config.seed,
                trust_remote_code=spec.trust_remote_code,
            )
            capture_run(step)

        unit.inputs = [model_fingerprint(sources[role]), *unit.inputs[1:], ctx.config.seed]
        unit.run = run
        units.append(unit)
    students = [n for n in captured if n.startswith("student_")]
    for student in students if "base" in captured else ():
        name = student + RANDOM_INIT_SUFFIX
        shared = ctx.run_dir / "activations" / ("base" + RANDOM_INIT_SUFFIX)
        target = ctx.run_dir / "activations" / name
        units.append(
            Unit(
                name,
                [shared],
                [target / "manifest.json"],
                lambda step, shared=shared, target=target, name=name: link_activations(
                    shared, target, name
                ),
                requires=[shared / "manifest.json"],
            )
        )
    return units


# --- probes, comparison, steering -------------------------------------------------------------


def single_blas_thread():
    """Small dense solves (probes: 64-1536 dims) run fastest on one BLAS thread; several threads
    spin against each other and against other processes on a shared CPU (12x slower measured on
    2 busy cores). Scoped to the stage, no global setting."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def probe_stage(ctx: RunContext) -> list[Unit]:
    options = ctx.config.probe
    items = ctx.run_dir / "items.csv"
    roles_path = write_roles(ctx.run_dir, ctx.config)
    out = ctx.run_dir / "probes"

    def run(step) -> None:
        from mimicry.probes.probing import ProbeConfig, run_probes

        with single_blas_thread():
            run_probes(
                ctx.run_dir,
                targets=list(options.targets),
                positions=list(options.positions) if options.positions else None,
                config=ProbeConfig(
                    folds=options.folds,
                    seed=ctx.config.seed,
                    n_boot=options.n_boot,
                    n_perm=options.n_perm,
                    n_perm_logistic=options.n_perm_logistic,
                ),
                progress=lambda _message: step(),
            )

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
        from mimicry.experiments.commands.effort_cmd import effort

        with single_blas_thread():
            effort(
                ctx.run_dir,
                models=None,
                fractions=",".join(str(f) for f in options.fractions) or "none",
                every=options.every,
                teacher=None,
                sources=None,
                targets=",".join(options.targets),
                folds=options.folds,
                seed=ctx.config.seed,
                n_boot=options.n_boot,
                n_control=1,
                batch_size=max(1, ctx.config.capture.batch_size),
                max_batch_tokens=16384,
                shard_rows=2048,
                random_init=ctx.config.capture.random_init_baseline,
                dtype="float32",
                device="cpu",
                trust_remote_code=False,
            )
        step()

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


def steer_layer(ctx: RunContext, model: str) -> int:
    """The configured layer, else the model's best human-RT probe layer (>= 1), else the middle."""
    if ctx.config.steer.layer is not None:
        return ctx.config.steer.layer
    import json

    import pandas as pd

    manifest = ctx.run_dir / "activations" / model / "manifest.json"
    n_layers = json.loads(manifest.read_text())["n_layers"] if manifest.is_file() else 2
    probes = ctx.run_dir / "probes" / "probes.csv"
    if probes.is_file():
        table = pd.read_csv(probes)
        rows = table[
            (table["model"] == model)
            & (table["target"] == "human_rt")
            & (table["feature_set"] == "activations")
            & (table["position"] == ctx.config.steer.position)
            & (table["layer"] >= 1)
        ]
        if not rows.empty:
            return int(rows.sort_values("score").iloc[-1]["layer"])
    return max(1, n_layers // 2)


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
    spec = _spec(ctx, options.model)
    layer = steer_layer(ctx, options.model)
    convention = run_convention(ctx.config, options.model)  # as it generated its traces

    def run(step) -> None:
        from mimicry.probes.steer import steer_run

        steer_run(
            source,
            ctx.run_dir,
            layer=layer,
            alphas=list(options.alphas),
            out_path=out,
            name=options.model,
            position=options.position,
            max_new_tokens=generation.max_new_tokens,
            limit=options.n_items,
            n_boot=options.n_boot,
            seed=ctx.config.seed,
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
                ctx.config.seed,
            ],
            [out],
            run,
            requires=[items, source],
        )
    ]


# --- report -----------------------------------------------------------------------------------


def report_stage(ctx: RunContext) -> list[Unit]:
    run_dir = ctx.run_dir
    write_roles(run_dir, ctx.config)
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


STAGE_BUILDERS = {
    "data": data_stage,
    "generate": generate_stage,
    "ablate": ablate_stage,
    "distill": distill_stage,
    "generate_students": generate_students_stage,
    "behaviour": behaviour_stage,
    "capture": capture_stage,
    "probe": probe_stage,
    "effort": effort_stage,
    "compare": compare_stage,
    "steer": steer_stage,
    "report": report_stage,
}
