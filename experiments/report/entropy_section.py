"""The attention-entropy section: entropy against human difficulty per layer and region."""

from __future__ import annotations

import pandas as pd

from mimicry.data.exclusions import Exclusions
from mimicry.experiments.report import figures
from mimicry.experiments.report.collect import RunTables
from mimicry.experiments.report.entropy import entropy_vs_difficulty
from mimicry.experiments.report.formatting import ci_column, p_value
from mimicry.experiments.report.sections import (
    Figure,
    Section,
)


def entropy_section(
    tables: RunTables, colours: dict, config: dict, exclusions: Exclusions
) -> tuple[Section, pd.DataFrame | None]:
    section = Section("entropy", "Attention entropy vs human difficulty, per layer")
    if not tables.entropy_files or tables.items is None:
        section.paragraphs.append("The capture stage wrote no attention entropy in this run.")
        return section, None
    report = config["report"]  # ReportConfig's fields (build_report fills them)
    result = entropy_vs_difficulty(
        tables.entropy_files,
        tables.items,
        n_boot=report["n_boot"],
        n_perm=report["n_perm"],
        seed=int(config.get("seed", 0)),
        exclusions=exclusions,
    )
    section.paragraphs.append(
        "Per layer: an item's attention entropy (mean over heads and query positions, normalised "
        "by log of the keys attended) and its human RT, both z-scored within task; Pearson r over "
        "items with a 95% bootstrap CI and a permutation p. Positive r: the model attends more "
        "diffusely on items humans find harder."
    )
    main = result[result["measure"] == "entropy_norm"].copy()
    if main.empty:
        section.paragraphs.append("No item had both attention entropy and a human RT norm.")
        return section, result
    section.figures.append(
        Figure(
            "entropy_difficulty",
            "Within-task r between normalised attention entropy and human RT, per layer (95% CI bands).",
            figures.depth_curves(
                main,
                panel="region",
                x="layer",
                y="r",
                low="ci_low",
                high="ci_high",
                line="model",
                colours=colours,
                xlabel="layer",
                ylabel="r(entropy, human RT)",
                panel_titles={"prompt": "prompt tokens", "trace": "reasoning-trace tokens"},
            ),
        )
    )
    main = main.sort_values(
        ["region", "model", "layer"],
        key=lambda c: c.map(figures.sort_key(colours)) if c.name == "model" else c,
    )
    section.tables.append(
        (
            "Entropy–difficulty correlation per model, region and layer (normalised entropy).",
            pd.DataFrame(
                {
                    "model": main["model"],
                    "region": main["region"],
                    "layer": main["layer"],
                    "n": main["n"],
                    "r [95% CI]": ci_column(main, "r", "ci_low", "ci_high"),
                    "p": main["p_value"].map(p_value),
                }
            ),
        )
    )
    return section, result
