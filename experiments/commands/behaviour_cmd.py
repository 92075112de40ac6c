"""`mimicry behaviour`: score reasoning cost against human difficulty from trace files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def behaviour(
    items: Annotated[
        Path, typer.Option("--items", help="Item table (CSV or JSONL) with human norms.")
    ],
    traces: Annotated[
        list[Path],
        typer.Option(
            "--traces",
            help="Trace JSONL file (one line per item x sample) or a folder of them; repeatable.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output directory (replaced atomically).")],
    pair: Annotated[
        list[str] | None,
        typer.Option("--pair", help="STUDENT=BASE: write student-minus-base transfer; repeatable."),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the bootstrap and permutation draws.")
    ] = 0,
    log_cost: Annotated[
        bool, typer.Option("--log-cost", help="Cost = mean of log(1 + tokens), not mean tokens.")
    ] = False,
    difficulty: Annotated[
        str,
        typer.Option(
            "--difficulty",
            help="auto: per task, RT where the task has RT norms, else 1 - accuracy; "
            "rt: human RT in ms; error: 1 - human accuracy.",
        ),
    ] = "auto",
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            metavar="MODEL",
            help="Write inflation.csv: every other model's cost as a multiple of this model's.",
        ),
    ] = None,
    n_boot: Annotated[
        int, typer.Option("--n-boot", help="Bootstrap resamples over items.")
    ] = 10_000,
    n_perm: Annotated[
        int, typer.Option("--n-perm", help="Permutations for the p-values.")
    ] = 10_000,
    min_items: Annotated[
        int,
        typer.Option("--min-items", help="Tasks with fewer usable items are left out (counted)."),
    ] = 5,
    outliers: Annotated[
        str,
        typer.Option(
            "--outliers", help="none, or cooks: drop items with Cook's D > 4/n (counted)."
        ),
    ] = "none",
    tokenizer: Annotated[
        Path | None,
        typer.Option("--tokenizer", help="Tokenizer folder: count every line's reasoning tokens."),
    ] = None,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Allow custom tokenizer code.")
    ] = False,
    figures: Annotated[
        bool, typer.Option("--figures/--no-figures", help="Write a scatter per model x task.")
    ] = True,
) -> None:
    """Correlate each model's reasoning cost with human item difficulty (r, rho, CI, p)."""
    from rich.console import Console

    from mimicry.data.fileio import check_out_dir
    from mimicry.data.lock import output_lock
    from mimicry.experiments.behaviour import BehaviourOptions, score
    from mimicry.experiments.commands.checks import existing_file, positive, tokenizer_source

    positive(n_boot, "n_boot")
    positive(n_perm, "n_perm")
    positive(min_items, "min_items")
    existing_file(items, "items")
    tokenizer_source(tokenizer)
    check_out_dir(out)

    console = Console(stderr=True)
    options = BehaviourOptions(
        seed=seed,
        log_cost=log_cost,
        difficulty=difficulty,
        n_boot=n_boot,
        n_perm=n_perm,
        min_items=min_items,
        outliers=outliers,
        figures=figures,
        reference=reference,
    )
    with output_lock(out), console.status("behaviour") as status:
        result = score(
            items,
            traces,
            out,
            pairs=pair or [],
            options=options,
            tokenizer=tokenizer,
            trust_remote_code=trust_remote_code,
            progress=lambda step: status.update(f"behaviour: {step}"),
        )
    summary = result.summary
    for row in summary.itertuples():
        console.print(
            f"{row.model}: r-bar {row.r_bar:.3f} [{row.r_bar_ci_low:.3f}, {row.r_bar_ci_high:.3f}]"
            f" p={row.r_bar_p:.3g} over {row.n_tasks} tasks, {row.n_items} items",
            markup=False,
            highlight=False,
        )
    for row in result.inflation[result.inflation["task"] == "ALL"].itertuples():
        console.print(
            f"{row.model} vs {row.reference}: k {row.k:.3f} [{row.k_ci_low:.3f}, "
            f"{row.k_ci_high:.3f}], log-ratio slope on difficulty {row.slope:.3f} "
            f"p={row.slope_p:.3g}, {row.n} items",
            markup=False,
            highlight=False,
        )
    for row in result.wrong_right[result.wrong_right["task"] == "ALL"].itertuples():
        console.print(
            f"{row.model}: wrong - right {row.mean_diff:+.1f} tokens [{row.mean_diff_ci_low:.1f}, "
            f"{row.mean_diff_ci_high:.1f}] p={row.p_value:.3g}, d_z {row.cohens_d:.2f}, "
            f"{row.n_items} items",
            markup=False,
            highlight=False,
        )
    console.print(
        f"{result.exclusions.total()} exclusions (see exclusions.csv); wrote {result.out_dir}",
        markup=False,
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Attach `mimicry behaviour` to the main app."""
    app.command("behaviour")(behaviour)
