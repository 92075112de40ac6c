"""`mimicry behaviour`: score reasoning cost against human difficulty from trace files.

Its analysis options are the fields of `BehaviourConfig` (the run config's `behaviour` section);
the command declares only its inputs and outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicry.experiments.commands.options import config_options
from mimicry.experiments.config.stage_options import BehaviourConfig


@config_options(BehaviourConfig)
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
    tokenizer: Annotated[
        Path | None,
        typer.Option("--tokenizer", help="Tokenizer folder: count every line's reasoning tokens."),
    ] = None,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Allow custom tokenizer code.")
    ] = False,
    *,
    config: BehaviourConfig,
) -> None:
    """Correlate each model's reasoning cost with human item difficulty (r, rho, CI, p)."""
    from rich.console import Console

    from mimicry.data.fileio import check_out_dir
    from mimicry.data.lock import output_lock
    from mimicry.experiments.behaviour import score
    from mimicry.experiments.commands.checks import existing_file, tokenizer_source

    existing_file(items, "items")
    tokenizer_source(tokenizer)
    check_out_dir(out)

    console = Console(stderr=True)
    with output_lock(out), console.status("behaviour") as status:
        result = score(
            items,
            traces,
            out,
            pairs=pair or [],
            options=config,
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
