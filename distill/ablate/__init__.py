"""Trace ablations: SFT sets from one teacher's traces that differ in one factor only.

`build_sets(traces, out_dir)` writes `out_dir/<set>/train.jsonl` (item_id, prompt, completion),
`check.json` (held-fixed conditions + statistics) and `README.md` for each set, plus
`out_dir/exclusions.csv`. Sets: `original`, `format_fixed_content_varied`,
`content_fixed_format_varied`, `length_matched` (one module each).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import atomic_dir, hash_inputs, is_fresh, write_json, write_stamp
from mimicry.distill.ablate import content_fixed, format_fixed, length_matched, original
from mimicry.distill.ablate.checks import check_set
from mimicry.distill.ablate.common import BuildContext, Example
from mimicry.distill.ablate.inputs import load_teacher_traces
from mimicry.distill.ablate.measure import TokenMeasure

SET_MODULES = {
    module.NAME: module for module in (original, format_fixed, content_fixed, length_matched)
}
SET_NAMES = tuple(SET_MODULES)
# Bump when a set's construction changes, so stale sets are rebuilt rather than skipped.
ABLATION_VERSION = 1

__all__ = ["SET_NAMES", "AblationSummary", "build_sets"]


@dataclass
class AblationSummary:
    """What `build_sets` wrote: examples and check verdict per set, and the exclusions."""

    out_dir: Path
    n_examples: dict[str, int] = field(default_factory=dict)
    passed: dict[str, bool] = field(default_factory=dict)
    exclusions: Exclusions = field(default_factory=Exclusions)
    skipped: bool = False


def _measure(tokenizer) -> TokenMeasure:
    if tokenizer is None:
        return TokenMeasure(None, label="words")
    if isinstance(tokenizer, str | Path):
        from mimicry.probes.loading import load_tokenizer

        return TokenMeasure(load_tokenizer(tokenizer), label=f"tokenizer:{tokenizer}")
    return TokenMeasure(tokenizer, label=f"tokenizer:{type(tokenizer).__name__}")


def build_sets(
    traces,
    out_dir,
    *,
    items=None,
    sets=SET_NAMES,
    seed: int = 0,
    tokenizer=None,
    include_incorrect: bool = False,
    target_length: int | None = None,
    open_tag: str = "<think>",
    close_tag: str = "</think>",
) -> AblationSummary:
    """Build the ablation sets from one teacher's trace file(s).

    Args:
        traces: trace JSONL path(s) of one model.
        out_dir: directory that receives one folder per set (replaced atomically).
        items: item table, needed when the traces carry no `prompt`/`task`.
        sets: which sets to build.
        seed: seed of every random choice (donor steps, entities).
        tokenizer: student tokenizer (path or object) in whose tokens lengths are held fixed;
            None measures words and punctuation marks.
        include_incorrect: also use incorrect traces (default: correct only, the rest counted).
        target_length: common length of `length_matched` (default: median teacher length).
        open_tag, close_tag: reasoning tags of the completions.
    """
    unknown = [s for s in sets if s not in SET_MODULES]
    if unknown:
        raise InputError(
            f"unknown ablation set(s) {unknown}; choose from {SET_NAMES}", field="sets"
        )
    paths = [Path(traces)] if isinstance(traces, str | Path) else [Path(t) for t in traces]
    out = Path(out_dir)
    options = {
        "version": ABLATION_VERSION,
        "sets": list(sets),
        "seed": seed,
        "tokenizer": str(tokenizer) if isinstance(tokenizer, str | Path) else None,
        "include_incorrect": include_incorrect,
        "target_length": target_length,
        "tags": [open_tag, close_tag],
    }
    inputs_hash = hash_inputs(*paths, Path(items) if items else None, options)
    summary = AblationSummary(out_dir=out)
    if isinstance(tokenizer, str | Path | None) and is_fresh(out, inputs_hash):
        summary.skipped = True
        for name in sets:
            check = json.loads((out / name / "check.json").read_text())
            summary.n_examples[name] = check["stats"]["n_items"]
            summary.passed[name] = check["passed"]
        return summary

    ledger = summary.exclusions
    teacher = load_teacher_traces(
        paths, items_path=items, include_incorrect=include_incorrect, exclusions=ledger
    )
    if not teacher:
        raise InputError(
            f"no usable traces after filtering ({ledger.total()} excluded: "
            + _reasons_by_task(ledger.rows())
            + ")",
            file=paths[0],
        )
    measure = _measure(tokenizer)
    built: dict[str, tuple[list[Example], dict]] = {}
    for name in sets:
        context = BuildContext(name=name, measure=measure, seed=seed, exclusions=ledger)
        module = SET_MODULES[name]
        if name == length_matched.NAME:
            examples = module.build(teacher, context, target=target_length)
        else:
            examples = module.build(teacher, context)
        if not examples:
            raise InputError(
                f"ablation set {name!r} is empty after filtering "
                f"({ledger.total(stage='ablate')} traces excluded; see reasons by running with more items)",
                file=paths[0],
            )
        built[name] = (examples, check_set(name, examples, measure))

    with atomic_dir(out) as tmp:
        for name, (examples, check) in built.items():
            _write_set(tmp / name, SET_MODULES[name], examples, check, open_tag, close_tag)
            summary.n_examples[name] = len(examples)
            summary.passed[name] = check["passed"]
        ledger.write_csv(tmp / "exclusions.csv")
        write_stamp(tmp, inputs_hash, sets=list(sets))
    return summary


def _write_set(directory: Path, module, examples, check, open_tag, close_tag) -> None:
    directory.mkdir(parents=True)
    with (directory / "train.jsonl").open("w", encoding="utf-8") as handle:
        for example in examples:
            line = {
                "item_id": example.item_id,
                "prompt": example.source.prompt,
                "completion": example.completion(open_tag, close_tag),
                "task": example.source.task,
            }
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    check = {**check, "held_fixed": module.HELD_FIXED, "varied": module.VARIED}
    write_json(directory / "check.json", check)
    (directory / "README.md").write_text(_readme(module, check))


def _readme(module, check: dict) -> str:
    lines = [
        f"# Ablation set `{module.NAME}`",
        "",
        (module.__doc__ or "").strip(),
        "",
        f"- Held fixed: {module.HELD_FIXED}.",
        f"- Varied: {module.VARIED}.",
        f"- Items: {check['stats']['n_items']}; lengths measured in {check['measure']}.",
        f"- Check {'PASSED' if check['passed'] else 'FAILED'}:",
    ]
    for name, condition in check["conditions"].items():
        verdict = "ok" if condition["ok"] else "FAILED"
        lines.append(
            f"  - {name} = {condition['value']} (expected {condition['expected']}): {verdict}"
        )
    lines += ["", "Full statistics: `check.json`. Excluded traces: `../exclusions.csv`.", ""]
    return "\n".join(lines)


def _reasons_by_task(rows: list[dict]) -> str:
    """`empty_reasoning=6 (tasks a, b), incorrect=2 (task c)`: each reason once, with its tasks."""
    totals: dict[str, int] = {}
    tasks: dict[str, list[str]] = {}
    for row in rows:
        totals[row["reason"]] = totals.get(row["reason"], 0) + int(row["n"])
        if row["task"] and row["task"] not in tasks.setdefault(row["reason"], []):
            tasks[row["reason"]].append(row["task"])
    parts = []
    for reason, n in totals.items():
        named = tasks.get(reason, [])
        where = f" ({'tasks' if len(named) > 1 else 'task'} {', '.join(named)})" if named else ""
        parts.append(f"{reason}={n}{where}")
    return ", ".join(parts)
