"""The weights card (`TRAINING.md`): how the shipped organism was made and how well it does."""

from __future__ import annotations

from pathlib import Path

from data.fileio import atomic_file

_COLUMNS = (
    ("task", "task", "{}"),
    ("n", "n", "{}"),
    ("accuracy", "acc", "{:.3f}"),
    ("mean_reasoning_tokens", "mean tokens", "{:.1f}"),
    ("r_feat_steps_r", "r(len, steps)", "{:.3f}"),
    ("r_feat_steps_ci_low", "CI low", "{:.3f}"),
    ("r_feat_steps_ci_high", "CI high", "{:.3f}"),
    ("r_feat_steps_p_value", "p", "{:.2g}"),
    ("r_feat_n_premises_r", "r(len, premises)", "{:.3f}"),
    ("r_human_rt_ms_r", "r(len, human RT)", "{:.3f}"),
    ("r_human_rt_ms_ci_low", "CI low", "{:.3f}"),
    ("r_human_rt_ms_ci_high", "CI high", "{:.3f}"),
    ("r_human_rt_ms_p_value", "p", "{:.2g}"),
    ("r_human_acc_r", "r(len, human acc)", "{:.3f}"),
)


def metrics_table(rows: list[dict]) -> str:
    """A markdown table of evaluation summary rows (columns that are all empty are left out)."""
    present = [c for c in _COLUMNS if any(row.get(c[0]) is not None for row in rows)]
    lines = [
        "| " + " | ".join(title for _, title, _ in present) + " |",
        "|" + "---|" * len(present),
    ]
    for row in rows:
        cells = []
        for key, _, fmt in present:
            value = row.get(key)
            cells.append("—" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_card(path: str | Path, metrics: dict) -> None:
    """Write TRAINING.md from the metrics of one `train_organism` run."""
    recipe = metrics["recipe"]
    timings = metrics["timings_s"]
    env = metrics["environment"]
    sections = [
        "# The mimicry model organism: teacher and base",
        "Produced by the project's own code (`distill/organism/train.py`); regenerate with:",
        f"```\n{metrics['command'] or 'mimicry organism train --out DIR --seed SEED'}\n```",
        f"Seed {metrics['seed']}. Wall time {timings['total']:.0f} s on this machine "
        f"({env['torch_threads']} torch threads, {env['machine']}, torch {env['torch']}); phases: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items() if k != "total")
        + ". Measured while the CPU was shared with other work, so expect less on free cores.",
        "## What the models are",
        f"- `teacher/`: Qwen2 decoder ({_size(recipe['teacher_size'])}), SFT on the families' "
        "step-by-step scratchpads (`<think> step ; step </think> ANSWER`), then GRPO (trl) with "
        f"reward = correct answer - {recipe['rl']['cost_per_token']} per reasoning token "
        f"({recipe['rl']['max_steps']} steps, {recipe['rl']['num_generations']} generations per prompt).",
        f"- `base/`: the student architecture ({_size(recipe['base_size'])}) trained on the same "
        "items without traces: `prompt -> <think> </think> ANSWER` (empty think block, same format; "
        "its reasoning length is constant, so its length-difficulty r is undefined by construction).",
        f"- Training items: {recipe['n_train_per_family']} generated items per family "
        f"({', '.join(recipe['families'])}); held-out: {recipe['n_heldout_per_family']} more per "
        "family from the same draw (disjoint prompts); no generated item repeats a human-normed prompt.",
        f"- Vocabulary: {metrics['vocab_size']} word tokens; unknown-word rate on the human items "
        f"{metrics['unknown_word_rate_human']:.3f}.",
        "## Teacher on held-out generated items (greedy)",
        "r is Pearson's between reasoning tokens and the item's derivation steps (`feat_steps`), "
        "95% CI by Fisher z, two-sided p.",
        metrics_table(metrics["teacher_heldout"]),
        "### Teacher after SFT, before RL (same items)",
        metrics_table(metrics["teacher_after_sft_heldout"]),
        *curve_section(metrics.get("teacher_sft_curve") or []),
        "## Teacher on the human-normed items",
        metrics_table(metrics["teacher_human"]),
        "## Base (no traces)",
        "Held-out generated items:",
        metrics_table(metrics["base_heldout"]),
        "Human-normed items:",
        metrics_table(metrics["base_human"]),
        "## Status against the organism's targets (issue 6, measured above)",
        target_status(metrics["teacher_heldout"]),
    ]
    with atomic_file(path) as tmp:
        tmp.write_text("\n\n".join(sections) + "\n")


def curve_section(curve: list[dict]) -> list[str]:
    """Held-out accuracy during teacher SFT as a markdown table (nothing when not measured)."""
    if not curve:
        return []
    tasks = sorted(key for key in curve[0] if key not in {"step", "accuracy"})
    lines = [
        "| step | all | " + " | ".join(tasks) + " |",
        "|" + "---|" * (len(tasks) + 2),
    ]
    for point in curve:
        cells = [str(point["step"]), f"{point['accuracy']:.3f}"]
        cells += [f"{point[task]:.2f}" for task in tasks]
        lines.append("| " + " | ".join(cells) + " |")
    return [
        "### Held-out accuracy during teacher SFT (learning rate still decaying)",
        "\n".join(lines),
    ]


ACCURACY_TARGET = 0.9
LENGTH_WORK_R_TARGET = 0.5


def target_status(rows: list[dict]) -> str:
    """Met / not met for the teacher's held-out accuracy and r(length, steps), from the `all` row."""
    overall = next(row for row in rows if row["task"] == "all")
    accuracy, r = overall["accuracy"], overall.get("r_feat_steps_r")
    low, high = accuracy_ci(accuracy, overall["n"])
    lines = [
        f"- Accuracy {'met' if accuracy >= ACCURACY_TARGET else 'NOT met'}: {accuracy:.3f} "
        f"[{low:.3f}, {high:.3f}] (Wilson 95% CI) on n = {overall['n']} held-out generated items "
        f"(target >= {ACCURACY_TARGET}).",
    ]
    if r is None:
        lines.append("- Length follows work: undefined (constant reasoning length).")
    else:
        lines.append(
            f"- Length follows work {'met' if r >= LENGTH_WORK_R_TARGET else 'NOT met'}: "
            f"r(len, feat_steps) = {r:.3f} [{overall['r_feat_steps_ci_low']:.3f}, "
            f"{overall['r_feat_steps_ci_high']:.3f}], p = {overall['r_feat_steps_p_value']:.2g}, "
            f"n = {overall['r_feat_steps_n']} (target >= {LENGTH_WORK_R_TARGET})."
        )
    return "\n".join(lines)


def accuracy_ci(accuracy: float, n: int) -> tuple[float, float]:
    """Wilson 95% interval of a proportion (scipy's binomtest)."""
    from scipy.stats import binomtest

    interval = binomtest(round(accuracy * n), n).proportion_ci(method="wilson")
    return float(interval.low), float(interval.high)


def _size(size: dict) -> str:
    return f"{size['n_layers']} layers, d_model {size['d_model']}, {size['n_heads']} heads"
