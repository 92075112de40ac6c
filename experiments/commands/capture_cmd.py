"""`mimicry capture`: residual-stream activations and attention entropy of one model.

Its options are the fields of `CaptureConfig` (the run config's `capture` section); the command
declares its inputs, outputs and how the model is loaded and prompted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicry.experiments.commands.options import config_options
from mimicry.experiments.commands.prompting_flags import (
    AnswerPattern,
    Instruction,
    SystemPrompt,
    convention_from_flags,
)
from mimicry.probes.capture.config import CaptureConfig


@config_options(CaptureConfig)
def capture_command(
    model: Annotated[str, typer.Option("--model", help="Local HF model folder or hub name.")],
    items: Annotated[Path, typer.Option("--items", help="Item table (CSV or JSONL).")],
    out: Annotated[Path, typer.Option("--out", help="Run directory to write into.")],
    traces: Annotated[
        list[Path] | None,
        typer.Option(
            "--traces",
            help="Trace JSONL: read prompt + '<think> reasoning </think>' (sample 0); repeatable.",
        ),
    ] = None,
    trace_model: Annotated[
        str | None,
        typer.Option("--trace-model", help="Whose traces to read when the files hold several."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Output name under activations/ and entropy/ (default: model)."
        ),
    ] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="float32, bfloat16 or float16.")
    ] = "float32",
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:1, ...")] = "cpu",
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Allow the model's own Python code.")
    ] = False,
    revision: Annotated[
        str | None, typer.Option("--revision", help="Hub revision (branch, tag or commit).")
    ] = None,
    template: Annotated[
        str,
        typer.Option(
            "--template",
            help="auto (the chat template when the tokenizer has one, as `generate` prompts), "
            "raw text, or the tokenizer's chat template; same as --prompt-style auto|plain|chat.",
        ),
    ] = "auto",
    system_prompt: SystemPrompt = None,
    instruction: Instruction = None,
    answer_pattern: AnswerPattern = None,
    think_open: Annotated[
        str, typer.Option("--think-open", help="Marker that opens reasoning in this model family.")
    ] = "<think>",
    think_close: Annotated[
        str, typer.Option("--think-close", help="Marker that closes reasoning.")
    ] = "</think>",
    remote: Annotated[
        str,
        typer.Option(
            "--remote",
            help="no: run here; local: every trace through nnsight's remote serialisation, run "
            "here (dry run of NDIF); ndif: run on NDIF (needs NDIF_API_KEY; residuals only).",
        ),
    ] = "no",
    *,
    config: CaptureConfig,
) -> None:
    """Capture per-layer residuals at chosen positions and attention entropy into RUN."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from mimicry.data.lock import run_lock
    from mimicry.experiments.commands.checks import existing_file, model_source

    existing_file(items, "items")
    model_source(model, field="model", device=device)
    from mimicry.probes.capture import capture_run

    with run_lock(out):
        console = Console(stderr=True)
        with Progress(
            TextColumn("capture"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("capture", total=None)
            result = capture_run(
                model,
                items,
                out,
                name,
                config=config,
                traces=traces or None,
                trace_model=trace_model,
                dtype=dtype,
                device=device,
                trust_remote_code=trust_remote_code,
                revision=revision,
                template=convention_from_flags(
                    prompt_style={"raw": "plain"}.get(template, template),
                    system_prompt=system_prompt,
                    instruction=instruction,
                    answer_pattern=answer_pattern,
                    think_tags=(think_open, think_close),
                ),
                think_tags=(think_open, think_close),
                remote=remote,
                on_batch=lambda n: progress.advance(task, n),
            )
        state = "up to date, skipped" if result.skipped else "written"
        console.print(
            f"{result.n_items} items {state}: {result.activations}"
            + (f", {result.entropy}" if result.entropy else "")
            + f"; {result.exclusions.total()} excluded"
        )


def register(app: typer.Typer) -> None:
    """Attach `capture` to the main app."""
    app.command("capture")(capture_command)
