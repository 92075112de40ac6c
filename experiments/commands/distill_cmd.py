"""`mimicry generate | ablate | distill | lexicon`: teacher traces, ablation sets, SFT students,
lexical markers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicry.distill.config import GenerateConfig, RLConfig, SFTConfig
from mimicry.experiments.commands.options import config_options
from mimicry.experiments.commands.prompting_flags import (
    AnswerPattern,
    Instruction,
    PromptStyle,
    SystemPrompt,
    convention_from_flags,
)


@config_options(GenerateConfig)
def generate(
    model: Annotated[str, typer.Option("--model", help="Model folder (or hub name).")],
    items: Annotated[Path, typer.Option("--items", help="Item table (CSV or JSONL).")],
    out: Annotated[Path, typer.Option("--out", help="Trace file to write (JSONL).")],
    name: Annotated[
        str | None, typer.Option("--name", help="Model name in the traces (default: folder name).")
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option("--delimiter", help="Split reasoning/answer at this string, not think tags."),
    ] = None,
    open_tag: Annotated[str, typer.Option("--open-tag", help="Reasoning open tag.")] = "<think>",
    close_tag: Annotated[
        str, typer.Option("--close-tag", help="Reasoning close tag.")
    ] = "</think>",
    prompt_style: PromptStyle = "auto",
    system_prompt: SystemPrompt = None,
    instruction: Instruction = None,
    answer_pattern: AnswerPattern = None,
    open_think: Annotated[
        bool,
        typer.Option("--open-think", help="End plain prompts with the open tag (base models)."),
    ] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    dtype: Annotated[
        str, typer.Option("--dtype", help="auto (bf16 on GPU, fp32 on CPU), float32, bfloat16.")
    ] = "auto",
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Allow custom model code.")
    ] = False,
    *,
    config: GenerateConfig,
) -> None:
    """Generate reasoning traces for every item; resumable; unparsed generations kept and counted."""
    from mimicry.data.fileio import check_out_file, record_output
    from mimicry.data.lock import output_lock
    from mimicry.experiments.commands.checks import (
        existing_file,
        is_trace_file,
        model_source,
        suite_trace_file,
    )

    existing_file(items, "items")
    model_source(model, field="model", device=None if device == "auto" else device)
    check_out_file(out, own=lambda path: suite_trace_file(path, is_trace_file))
    convention = convention_from_flags(
        prompt_style=prompt_style,
        system_prompt=system_prompt,
        instruction=instruction,
        answer_pattern=answer_pattern,
        think_tags=(open_tag, close_tag),
        open_think=open_think,
    )
    from rich.progress import Progress

    from mimicry.distill.generate import generate as run_generation

    with output_lock(out), Progress(transient=True) as progress:
        task = progress.add_task("generate", total=None)
        summary = run_generation(
            model,
            items,
            out,
            config=config,
            name=name,
            delimiter=delimiter,
            convention=convention,
            device=device,
            dtype=dtype,
            trust_remote_code=trust_remote_code,
            on_batch=lambda done, total: progress.update(task, completed=done, total=total),
        )
    record_output(out)  # a later run may replace it while it stays unchanged
    state = "up to date" if summary.skipped else "written"
    resumed = (
        f", resumed after {summary.resumed_batches} batches" if summary.resumed_batches else ""
    )
    print(
        f"{out}: {state}{resumed}; {summary.n_rows} traces, {summary.n_parsed} parsed, "
        f"{summary.n_correct} correct"
    )
    for row in summary.exclusions.rows():
        print(
            f"  unparsed ({row['reason']}): {row['n']} (task {row['task']}, e.g. {row['example']})"
        )
    if summary.n_rows and not summary.n_parsed:
        print(
            f"{out}: nothing parsed: none of the {summary.n_rows} generations has a reasoning span "
            "and an answer under this prompt convention (see --instruction, --answer-pattern, "
            "--delimiter); later stages exclude every one of them"
        )


def ablate(
    traces: Annotated[list[Path], typer.Argument(help="Trace JSONL file(s) of one teacher.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory, one folder per set.")],
    items: Annotated[
        Path | None,
        typer.Option("--items", help="Item table, when the traces carry no prompt/task."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of donor and entity draws.")] = 0,
    tokenizer: Annotated[
        Path | None,
        typer.Option("--tokenizer", help="Student tokenizer for lengths (default: words)."),
    ] = None,
    sets: Annotated[
        str,
        typer.Option("--sets", help="Comma-separated sets (default: all four)."),
    ] = "original,format_fixed_content_varied,content_fixed_format_varied,length_matched",
    include_incorrect: Annotated[
        bool, typer.Option("--include-incorrect", help="Also use incorrect traces.")
    ] = False,
    target_length: Annotated[
        int | None,
        typer.Option("--target-length", help="length_matched length (default: median)."),
    ] = None,
) -> None:
    """Build SFT sets that differ in one factor (format vs content vs length) and check them."""
    from mimicry.data.fileio import check_out_dir
    from mimicry.experiments.commands.checks import existing_file, positive, tokenizer_source

    positive(target_length, "target_length")
    existing_file(items, "items")
    tokenizer_source(tokenizer)
    check_out_dir(out)
    from mimicry.data.lock import output_lock
    from mimicry.distill.ablate import build_sets

    with output_lock(out):
        summary = build_sets(
            traces,
            out,
            items=items,
            sets=tuple(s.strip() for s in sets.split(",") if s.strip()),
            seed=seed,
            tokenizer=tokenizer,
            include_incorrect=include_incorrect,
            target_length=target_length,
        )
    state = "up to date" if summary.skipped else "written"
    print(f"{out}: {state}")
    for name, n in summary.n_examples.items():
        verdict = "check passed" if summary.passed[name] else "CHECK FAILED"
        print(f"  {name}: {n} examples, {verdict} ({out / name / 'check.json'})")
    for row in summary.exclusions.rows():
        print(f"  excluded ({row['reason']}): {row['n']} (task {row['task']})")
    if not all(summary.passed.values()):
        raise typer.Exit(1)


@config_options(SFTConfig)
def distill(
    student: Annotated[str, typer.Option("--student", help="Student model folder (or hub name).")],
    data: Annotated[
        Path, typer.Option("--data", help="Ablation set folder (DIR/SET) or its train.jsonl.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Student output folder (HF format).")],
    prompt_style: Annotated[
        str, typer.Option("--prompt-style", help="auto, chat or plain (as in generate).")
    ] = "auto",
    open_think: Annotated[
        bool,
        typer.Option("--open-think", help="End plain prompts with the open tag (as in generate)."),
    ] = False,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Allow custom model code.")
    ] = False,
    *,
    config: SFTConfig,
) -> None:
    """Distil a student by SFT on one ablation set (completion-only loss); resumes if killed."""
    from mimicry.data.fileio import check_out_dir

    if not (out / ".checkpoints").is_dir():  # a killed run's folder resumes
        check_out_dir(out)
    from mimicry.data.lock import output_lock
    from mimicry.distill.sft import train_student

    with output_lock(out):
        summary = train_student(
            student,
            data,
            out,
            config=config,
            prompt_style=prompt_style,
            open_think=open_think,
            trust_remote_code=trust_remote_code,
            show_progress=True,
        )
    state = "up to date" if summary.skipped else "trained"
    resumed = f", resumed at step {summary.resumed_from_step}" if summary.resumed_from_step else ""
    print(
        f"{out}: {state}{resumed}; {summary.n_examples} examples, {summary.steps} steps, "
        f"loss {summary.first_loss:.4g} -> {summary.last_loss:.4g} ({out / 'training_log.csv'})"
    )


@config_options(RLConfig)
def rl(
    student: Annotated[str, typer.Option("--student", help="Start model folder (or hub name).")],
    items: Annotated[
        Path, typer.Option("--items", help="Item table (prompt, answer): the training prompts.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Student output folder (HF format).")],
    prompt_style: Annotated[
        str, typer.Option("--prompt-style", help="auto, chat or plain (as in generate).")
    ] = "auto",
    open_think: Annotated[
        bool,
        typer.Option("--open-think", help="End plain prompts with the open tag (as in generate)."),
    ] = False,
    open_tag: Annotated[str, typer.Option("--open-tag", help="Reasoning open tag.")] = "<think>",
    close_tag: Annotated[
        str, typer.Option("--close-tag", help="Reasoning close tag.")
    ] = "</think>",
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Allow custom model code.")
    ] = False,
    *,
    config: RLConfig,
) -> None:
    """Train a student by GRPO with the teacher's reward (correct minus a cost per token)."""
    from mimicry.data.fileio import check_out_dir
    from mimicry.data.lock import output_lock
    from mimicry.experiments.commands.checks import existing_file, model_source

    existing_file(items, "items")
    model_source(student, field="student")
    check_out_dir(out)
    from mimicry.distill.rl import RLPrompting, train_rl_student

    prompting = RLPrompting(
        prompt_style=prompt_style, open_think=open_think, open_tag=open_tag, close_tag=close_tag
    )
    with output_lock(out):
        path = train_rl_student(
            student,
            items,
            out,
            config=config,
            prompting=prompting,
            trust_remote_code=trust_remote_code,
        )
    print(f"{path}: trained ({config.max_steps} GRPO steps, {path / 'training_log.csv'})")


def lexicon(
    traces: Annotated[list[Path], typer.Argument(help="Trace JSONL file(s), any models.")],
    items: Annotated[Path, typer.Option("--items", help="Item table with human norms.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (replaced atomically).")],
    tokenizer: Annotated[
        Path | None,
        typer.Option("--tokenizer", help="Recount reasoning tokens with this tokenizer."),
    ] = None,
    bins: Annotated[int, typer.Option("--bins", help="Difficulty bins within task.")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
) -> None:
    """Anthropomorphic tokens, hedges, connectives, fillers per 1,000 reasoning tokens by difficulty."""
    from mimicry.data.fileio import check_out_dir
    from mimicry.experiments.commands.checks import existing_file, positive, tokenizer_source

    positive(bins, "bins")
    existing_file(items, "items")
    tokenizer_source(tokenizer)
    check_out_dir(out)
    from mimicry.data.lock import output_lock
    from mimicry.distill.lexicon import lexicon_report

    with output_lock(out):
        summary = lexicon_report(traces, items, out, tokenizer=tokenizer, n_bins=bins, seed=seed)
    print(f"{out}: {summary.n_traces} traces counted (lexicon.csv, lexicon_trend.csv, figures/)")
    for row in summary.exclusions.rows():
        print(
            f"  excluded ({row['reason']}): {row['n']} (model {row['model']}, task {row['task']})"
        )


def register(app: typer.Typer) -> None:
    """Attach this group's commands to the main app."""
    app.command("generate")(generate)
    app.command("ablate")(ablate)
    app.command("distill")(distill)
    app.command("rl")(rl)
    app.command("lexicon")(lexicon)
