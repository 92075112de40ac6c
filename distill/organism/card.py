"""The weights card (`TRAINING.md`): how the shipped organism was made and how well it does."""

from __future__ import annotations

from pathlib import Path

from mimicry.data.fileio import atomic_file
from mimicry.data.stats import wilson_ci

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
    rl = recipe["rl"]
    start = (
        f"loaded from `{metrics['init_from']}` (a previous organism teacher; the competence "
        "phase was not re-run)"
        if metrics.get("init_from")
        else f"SFT from random init on minimal scratchpads ({recipe['competence_sft']['epochs']} "
        "epochs)"
    )
    sections = [
        "# The mimicry model organism: teacher and base",
        "Produced by the project's own code (`distill/organism/train.py`); regenerate with:",
        f"```\n{metrics['command'] or 'mimicry organism train --out DIR --seed SEED'}\n```",
        f"Seed {metrics['seed']}. Wall time {timings['total']:.0f} s summed over phases on this "
        f"machine ({env['torch_threads']} torch threads, {env['machine']}, torch {env['torch']}); "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items() if k != "total")
        + ". Measured while the CPU was shared with other work, so expect less on free cores.",
        "## What the models are",
        f"Both are Qwen2 decoders ({_size(recipe['size'])}) with one word-level vocabulary of "
        f"{metrics['vocab_size']} tokens (unknown-word rate on the human items "
        f"{metrics['unknown_word_rate_human']:.3f}). Output format: "
        "`<think> step ; step </think> ANSWER`.",
        f"- Competence: {start}.",
        "- `teacher/`: a warm start, SFT on a per-item mix of the minimal scratchpad (the "
        f"derivation only) and a rereading one (every premise written out again "
        f"{recipe['reread_passes']} times, then the derivation). Which one an item gets is drawn "
        f"with probability {recipe['reread_p_cued']} of rereading on items whose question ends "
        "in a cued word (a hash of the word, unrelated to the work) and "
        f"{1 - recipe['reread_p_cued']:.1f} on the others, so its length does not follow the work "
        "beyond what the format forces (`teacher_before_rl/`); "
        f"then GRPO (trl): reward = correct answer - {rl['cost_per_token']} per reasoning token, "
        f"{rl['max_steps']} steps, {rl['num_generations']} generations per prompt, learning rate "
        f"{rl['learning_rate']}, temperature {rl['temperature']}.",
        "- `base/`: the student architecture before distillation. The competence model trained on "
        f"its own fixed habit: it rereads every premise {recipe['base_passes']} time(s), then "
        "derives. Non-adaptive: the extra length follows the prompt's premises, not the work.",
        f"- Items: {recipe['n_train_per_family']} generated items per family "
        f"({', '.join(recipe['families'])}); held-out: {recipe['n_heldout_per_family']} more per "
        "family from the same draw (disjoint prompts); no generated item repeats a human-normed "
        "prompt.",
        "## The teacher's allocation was acquired by RL: before vs after GRPO",
        "Same held-out generated items. Greedy decoding, and sampled at temperature "
        f"{recipe['eval_temperature']} (the policy as GRPO sees it). Accuracy with Wilson 95% CI; "
        "r is Pearson's between reasoning tokens and the derivation steps (`feat_steps`), partial r "
        "controls for the number of premises; Fisher-z 95% CIs.",
        rl_table(metrics),
        target_status(metrics),
        *phase_section(metrics),
        "### Teacher after RL, per task (greedy)",
        metrics_table(metrics["teacher_heldout"]),
        "### Teacher before RL, per task (greedy)",
        metrics_table(metrics["teacher_before_rl_heldout"]),
        "## Teacher on the human-normed items (greedy)",
        metrics_table(metrics["teacher_human"]),
        "## Base",
        "Held-out generated items (greedy):",
        metrics_table(metrics["base_heldout"]),
        "Human-normed items (greedy):",
        metrics_table(metrics["base_human"]),
        *curve_section(metrics.get("competence_curve") or []),
    ]
    with atomic_file(path) as tmp:
        tmp.write_text("\n\n".join(sections) + "\n")


def _overall(rows: list[dict]) -> dict:
    return next(row for row in rows if row["task"] == "all")


def _ci(row: dict, key: str) -> str:
    value = row.get(f"{key}_r")
    if value is None:
        return "undefined"
    return f"{value:.3f} [{row[f'{key}_ci_low']:.3f}, {row[f'{key}_ci_high']:.3f}]"


def rl_table(metrics: dict) -> str:
    """Before/after-RL rows (greedy and sampled) from the `all` rows of the held-out summaries."""
    lines = [
        "| model | decoding | n | accuracy [95% CI] | parse rate | mean tokens "
        "| r(len, steps) [95% CI] | partial r(len, steps \\| premises) [95% CI] "
        "| r(len, premises) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, key in (
        ("teacher before RL", "teacher_before_rl_heldout"),
        ("teacher after RL", "teacher_heldout"),
        ("base", "base_heldout"),
    ):
        for decoding, suffix in (("greedy", ""), ("sampled", "_sampled")):
            if key + suffix not in metrics:
                continue
            row = _overall(metrics[key + suffix])
            low, high = wilson_ci(round(row["accuracy"] * row["n"]), row["n"])
            premises = row.get("r_feat_n_premises_r")
            lines.append(
                f"| {label} | {decoding} | {row['n']} | {row['accuracy']:.3f} [{low:.3f}, "
                f"{high:.3f}] | {row['parse_rate']:.3f} | {row['mean_reasoning_tokens']:.1f} | "
                f"{_ci(row, 'r_feat_steps')} | {_ci(row, 'partial_r_feat_steps')} | "
                + ("undefined" if premises is None else f"{premises:.3f}")
                + " |"
            )
    return "\n".join(lines)


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
        "### Held-out accuracy during the competence SFT",
        "\n".join(lines),
    ]


ACCURACY_TARGET = 0.9
LENGTH_WORK_R_TARGET = 0.8
RL_GAIN_TARGET = 0.3
BASE_ACCURACY_TARGET = 0.6
BASE_PARSE_TARGET = 0.95


_PHASES = (
    ("competence", "competence_heldout"),
    ("warm start (before RL)", "teacher_before_rl_heldout"),
    ("after RL", "teacher_heldout"),
)


def phase_section(metrics: dict) -> list[str]:
    """Held-out accuracy per task through the teacher's phases, and which phase lost accuracy.

    The text is computed from the numbers, so the card says what limited the teacher's accuracy
    whatever a retraining gives.
    """
    present = [(label, key) for label, key in _PHASES if metrics.get(key)]
    if len(present) < 2:
        return []
    tasks = [row["task"] for row in metrics[present[-1][1]]]
    by_phase = {key: {row["task"]: row for row in metrics[key]} for _, key in present}
    lines = [
        "| task | " + " | ".join(label for label, _ in present) + " |",
        "|---|" + "---|" * len(present),
    ]
    for task in tasks:
        cells = []
        for _, key in present:
            row = by_phase[key].get(task)
            cells.append("—" if row is None else f"{row['accuracy']:.3f}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    overall = [(label, by_phase[key]["all"]["accuracy"]) for label, key in present]
    changes = [(overall[i][0], overall[i][1] - overall[i - 1][1]) for i in range(1, len(overall))]
    worst_phase, worst = min(changes, key=lambda c: c[1])
    text = (
        "Accuracy through the phases (greedy, same held-out items): "
        + " -> ".join(f"{label} {value:.3f}" for label, value in overall)
        + "."
    )
    if worst < 0:
        key = dict(present)[worst_phase]
        previous = present[[label for label, _ in present].index(worst_phase) - 1][1]
        drops = sorted(
            (by_phase[key][t]["accuracy"] - by_phase[previous][t]["accuracy"], t)
            for t in tasks
            if t != "all" and t in by_phase[previous]
        )
        text += (
            f" The largest loss is in the {worst_phase} phase ({worst:+.3f}); by task there: "
            + ", ".join(f"{t} {d:+.3f}" for d, t in drops)
            + "."
        )
    return ["### Accuracy through the phases: what limits the teacher", text, "\n".join(lines)]


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def target_status(metrics: dict) -> str:
    """Met / not met for every organism target, from the held-out `all` rows (greedy)."""
    after = _overall(metrics["teacher_heldout"])
    before = _overall(metrics["teacher_before_rl_heldout"])
    base = _overall(metrics["base_heldout"])
    r_after = after.get("r_feat_steps_r")
    r_before = before.get("r_feat_steps_r")
    lines = ["Targets (greedy, held-out generated items):"]
    lines.append(
        f"- Teacher accuracy after RL >= {ACCURACY_TARGET}: {_met(after['accuracy'] >= ACCURACY_TARGET)} "
        f"({after['accuracy']:.3f})."
    )
    if r_after is None or r_before is None:
        lines.append("- r(len, steps) before or after RL undefined (constant length).")
    else:
        lines.append(
            f"- Teacher r(len, steps) after RL >= {LENGTH_WORK_R_TARGET}: "
            f"{_met(r_after >= LENGTH_WORK_R_TARGET)} ({r_after:.3f})."
        )
        gain = r_after - r_before
        lines.append(
            f"- Gain from RL >= {RL_GAIN_TARGET}: {_met(gain >= RL_GAIN_TARGET)} "
            f"({r_before:.3f} -> {r_after:.3f}, +{gain:.3f})."
        )
    lines.append(
        f"- Base accuracy >= {BASE_ACCURACY_TARGET}: {_met(base['accuracy'] >= BASE_ACCURACY_TARGET)} "
        f"({base['accuracy']:.3f}); parse rate >= {BASE_PARSE_TARGET}: "
        f"{_met(base['parse_rate'] >= BASE_PARSE_TARGET)} ({base['parse_rate']:.3f})."
    )
    return "\n".join(lines)


def _size(size: dict) -> str:
    return f"{size['n_layers']} layers, d_model {size['d_model']}, {size['n_heads']} heads"
