"""`mimicry probe` (per-layer linear probes, baselines, cross-model comparison) and `mimicry steer`.

`probe`'s analysis options are the fields of `ProbeConfig` (the run config's `probe` section);
`steer`'s are those of `SteerConfig` (the `steer` section) and the generation budget and batch of
`GenerateConfig` (the `generate` section).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicry.data.errors import InputError
from mimicry.distill.config import GenerateConfig
from mimicry.experiments.commands.options import config_options
from mimicry.experiments.commands.prompting_flags import (
    AnswerPattern,
    Instruction,
    PromptStyle,
    SystemPrompt,
    convention_from_flags,
)
from mimicry.probes.config import ProbeConfig
from mimicry.probes.steer_config import SteerConfig

GENERATION_ONLY = ("samples", "temperature", "seed", "backend")
"""`GenerateConfig` fields steering does not take (it decodes greedily, seeded by its own seed)."""


def _split(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


@config_options(ProbeConfig)
def probe(
    run: Annotated[Path, typer.Argument(help="Run directory with items.csv and activations/.")],
    items: Annotated[Path | None, typer.Option(help="Item table (default RUN/items.csv).")] = None,
    models: str = typer.Option(None, help="Comma-separated model names (default: all captured)."),
    roles: str = typer.Option(
        None,
        help="teacher=NAME,base=NAME,student=NAME[,student=NAME] for compare.csv "
        "(default RUN/roles.json, else all pairs).",
    ),
    random_init_baseline: str = typer.Option(
        None,
        help="Only 'auto' is accepted: use RUN/activations/<model>__random_init when captured "
        "(capture a random-init copy with the capture stage).",
    ),
    figures: bool = typer.Option(
        True, help="Write RUN/report/figures/probe_<target>_<position>.png."
    ),
    *,
    config: ProbeConfig,
) -> None:
    """Probe every layer for human difficulty and the model's own effort, with baselines and p."""
    from rich.console import Console

    from mimicry.data.lock import run_lock
    from mimicry.probes.probing import run_probes

    if not run.is_dir():
        raise InputError("no such run folder", file=run, field="run")

    if random_init_baseline not in (None, "auto"):
        raise InputError(
            "capture the random-init copy with `mimicry capture` into "
            "RUN/activations/<model>__random_init; only 'auto' is accepted here",
            field="random-init-baseline",
        )
    console = Console(stderr=True)
    with run_lock(run), console.status("probing") as status:
        out = run_probes(
            run,
            items_path=items,
            models=_split(models),
            config=config,
            roles=roles,
            figures=figures,
            progress=lambda message: status.update(f"probing {message}"),
        )
    print(f"wrote {out / 'probes.csv'}, {out / 'compare.csv'}, {out / 'exclusions.csv'}")


@config_options(SteerConfig)
@config_options(GenerateConfig, exclude=GENERATION_ONLY, param="generation")
def steer(
    model: Annotated[Path, typer.Option(help="HF model folder to steer.")],
    run: Annotated[
        Path, typer.Option(help="Run directory holding probes/directions (from `mimicry probe`).")
    ],
    items: Annotated[Path | None, typer.Option(help="Item table (default RUN/items.csv).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output CSV (default RUN/probes/steer.csv).")
    ] = None,
    name: str = typer.Option(None, help="Model name in the run (default: the folder name)."),
    trust_remote_code: bool = typer.Option(False, help="Allow custom model code."),
    remote: str = typer.Option(
        "no",
        help="no: hook + the generate stage's loop here; local: nnsight through its remote "
        "serialisation, run here (dry run of NDIF); ndif: nnsight on NDIF (needs NDIF_API_KEY).",
    ),
    prompt_style: PromptStyle = "auto",
    system_prompt: SystemPrompt = None,
    instruction: Instruction = None,
    answer_pattern: AnswerPattern = None,
    think_open: str = typer.Option("<think>", help="Marker that opens reasoning."),
    think_close: str = typer.Option("</think>", help="Marker that closes reasoning."),
    open_think: bool = typer.Option(False, help="End plain prompts with the open tag."),
    *,
    config: SteerConfig,
    generation: GenerateConfig,
) -> None:
    """Add alpha x the difficulty direction at one layer and measure reasoning length and accuracy.

    --max-new-tokens and --batch-size are `mimicry generate`'s (give the values the model's
    traces were generated with, so alpha = 0 reproduces them)."""
    from mimicry.data.fileio import check_out_file, record_output
    from mimicry.data.lock import output_lock, run_lock
    from mimicry.experiments.commands.checks import (
        is_steer_table,
        model_source,
        suite_trace_file,
    )

    if not run.is_dir():
        raise InputError("no such run folder", file=run, field="run")
    if out is not None:
        check_out_file(out, own=lambda path: suite_trace_file(path, is_steer_table))
    model_source(model, field="model")
    from mimicry.probes.steer import steer_run

    with run_lock(run), output_lock(out):
        path = steer_run(
            model,
            run,
            config=config,
            max_new_tokens=generation.max_new_tokens,
            batch_size=generation.batch_size,
            items_path=items,
            out_path=out,
            name=name,
            trust_remote_code=trust_remote_code,
            remote=remote,
            convention=convention_from_flags(
                prompt_style=prompt_style,
                system_prompt=system_prompt,
                instruction=instruction,
                answer_pattern=answer_pattern,
                think_tags=(think_open, think_close),
                open_think=open_think,
            ),
        )
    if out is not None:
        record_output(out)  # a later run may replace it while it stays unchanged
    print(f"wrote {path}")
    import pandas as pd

    from mimicry.probes.steer import nothing_parsed_line

    line = nothing_parsed_line(pd.read_csv(path))
    if line:
        print(line)


def register(app: typer.Typer) -> None:
    """Attach `probe` and `steer`."""
    app.command("probe")(probe)
    app.command("steer")(steer)
