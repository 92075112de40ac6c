"""Stage builders: ablation sets, SFT students per set, and the RL students."""

from __future__ import annotations

from mimicry.data.fileio import model_fingerprint
from mimicry.distill.config import SFTConfig
from mimicry.experiments.pipeline.models import (
    prompt_options,
    student_name,
)
from mimicry.experiments.pipeline.runner import RunContext, Unit
from mimicry.experiments.pipeline.stages.common import (
    role_source,
    train_items_path,
)


def ablate_stage(ctx: RunContext) -> list[Unit]:
    traces = ctx.run_dir / "distill_traces" / "teacher.jsonl"
    items = train_items_path(ctx)
    conditions = ctx.config.distill.sft_conditions
    out = ctx.run_dir / "ablations"
    base = role_source(ctx, "base")

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
    base = role_source(ctx, "base")
    prompting = prompt_options(ctx.config.models.base).generate
    training = SFTConfig(**options.model_dump(include=set(SFTConfig.model_fields)))
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
                config=training,
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
        from mimicry.distill.rl import RLPrompting, train_rl_student

        train_rl_student(
            start,
            items,
            out,
            config=rl,
            prompting=RLPrompting(**prompting),
            trust_remote_code=ctx.config.models.base.trust_remote_code,
            progress=lambda done, total: step(done, total),
        )

    # sft_then_rl depends on student_original through that unit's own inputs: the folder may not
    # exist yet when the stage is planned.
    start_inputs = after or [model_fingerprint(base)]
    return Unit(
        student_name(condition),
        [items, *start_inputs, rl.model_dump(mode="json")],
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
