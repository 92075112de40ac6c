"""`mimicry organism train|eval`: regenerate the built-in model organism and measure it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

organism_app = typer.Typer(
    help="Train or evaluate the built-in model organism (teacher + base).", no_args_is_help=True
)


@organism_app.command("train")
def train(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder; gets teacher/, base/, TRAINING.md.")
    ],
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed for data, init and training.")
    ] = 0,
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Tiny models and a handful of steps (seconds; for tests)."),
    ] = False,
    init_from: Annotated[
        Path | None,
        typer.Option(
            "--init-from",
            help="Start from this organism folder instead of the competence phase (its weights "
            "and tokenizer); the card records it.",
        ),
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            help="Folder of finished phases (default OUT.checkpoints); a re-run resumes there.",
        ),
    ] = None,
) -> None:
    """Train the organism: competence SFT, then the teacher (warm start on a random mix of
    minimal and rereading scratchpads, then GRPO with a length cost) and the base (a fixed
    rereading habit)."""
    from rich.console import Console

    from mimicry.distill.organism.recipe import FULL, QUICK
    from mimicry.distill.organism.train import train_organism

    console = Console(stderr=True)
    command = f"mimicry organism train --out {out} --seed {seed}" + (" --quick" if quick else "")
    if init_from is not None:
        command += f" --init-from {init_from}"
    if init_from is not None and not (init_from / "config.json").is_file():
        from mimicry.data.errors import InputError

        raise InputError("not a model folder (no config.json)", file=str(init_from))
    _check_train_outputs(out, checkpoints)
    with console.status("training the organism") as status:

        def progress(message: str) -> None:
            console.log(message)
            status.update(message)

        metrics = train_organism(
            out,
            seed=seed,
            recipe=QUICK if quick else FULL,
            init_from=init_from,
            checkpoint_dir=checkpoints,
            command=command,
            progress=progress,
        )
    for split in (
        "teacher_before_rl_heldout",
        "teacher_heldout",
        "teacher_human",
        "base_heldout",
        "base_human",
    ):
        overall = next(row for row in metrics[split] if row["task"] == "all")
        r = overall.get("r_feat_steps_r")
        r_text = "n/a" if r is None else f"{r:.3f}"
        typer.echo(
            f"{split:16s} n={overall['n']:4d} accuracy={overall['accuracy']:.3f} "
            f"r(length, steps)={r_text}"
        )
    typer.echo(f"wrote {out} in {metrics['timings_s']['total']:.0f} s")


def _check_train_outputs(out: Path, checkpoints: Path | None) -> None:
    """Before hours of training: `out` must be new, empty or an earlier organism output, and the
    checkpoints folder new, empty or one an earlier run made (it holds `identity.json`)."""
    from mimicry.data.errors import InputError
    from mimicry.data.fileio import check_out_dir

    check_out_dir(out)
    folder = checkpoints or out.with_name(out.name + ".checkpoints")
    field = "checkpoints"
    if folder.exists() and not folder.is_dir():
        raise InputError("exists and is not a folder", file=folder, field=field)
    if folder.is_dir() and any(folder.iterdir()) and not (folder / "identity.json").is_file():
        raise InputError(
            "is a non-empty folder that mimicry did not write (no identity.json); refusing to "
            "write into it (choose another --checkpoints)",
            file=folder,
            field=field,
        )


@organism_app.command("eval")
def evaluate(
    model_dir: Annotated[
        Path, typer.Argument(help="An organism folder (e.g. .../weights/teacher).")
    ],
    n: Annotated[int, typer.Option("--n", help="Held-out generated items per family.")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the held-out items.")] = 12345,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write per-task summary CSV here.")
    ] = None,
) -> None:
    """Accuracy and r(reasoning length, required work) on fresh generated and human items."""
    import pandas as pd

    from mimicry.data.generators import families, generate_items
    from mimicry.distill.organism.evaluate import evaluate_model
    from mimicry.distill.organism.item_sets import human_items, training_prompts
    from mimicry.experiments.commands.checks import positive
    from mimicry.probes.loading import check_model_source

    positive(n, "n")
    check_model_source(model_dir, field="model_dir")
    if out is not None:
        from mimicry.data.fileio import check_out_file

        check_out_file(out)  # an existing file only when an earlier eval wrote it
    heldout = pd.concat([generate_items(f, n, seed) for f in families()], ignore_index=True)
    seen = training_prompts(model_dir.parent / "metrics.json")
    if seen:
        unseen = ~heldout["prompt"].isin(seen)
        typer.echo(f"excluded {int((~unseen).sum())} generated items whose prompt was trained on")
        heldout = heldout[unseen]
    items = pd.concat([heldout, human_items(tuple(families()))], ignore_index=True)
    _, summary = evaluate_model(model_dir, items)
    columns = [
        c
        for c in (
            "task",
            "n",
            "accuracy",
            "mean_reasoning_tokens",
            "r_feat_steps_r",
            "r_feat_steps_ci_low",
            "r_feat_steps_ci_high",
            "r_human_rt_ms_r",
            "r_human_acc_r",
        )
        if c in summary.columns
    ]
    typer.echo(summary[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if out is not None:
        from mimicry.data.fileio import atomic_file, record_output

        with atomic_file(out) as tmp:
            summary.to_csv(tmp, index=False)
        record_output(out)


def register(app: typer.Typer) -> None:
    """Attach `mimicry organism ...` to the main app."""
    app.add_typer(organism_app, name="organism")
