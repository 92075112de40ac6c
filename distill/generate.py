"""Teacher traces: generate reasoning for every item, parse it, score it, write the trace file.

Generation is batched and resumable: each finished batch is appended to a hidden partial file and a
progress record notes the byte offset and batch count, so a killed run continues at the next batch
(and, because every batch has its own seed, produces the same file as an uninterrupted run). The
finished trace file is written atomically; a re-run with the same inputs is skipped.

Unparsed generations are kept (answer empty, `parse_error` naming the reason, raw text in
`generation`) and counted per reason, never dropped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import hash_inputs, model_fingerprint, write_json
from mimicry.data.reasoning import answers_match
from mimicry.distill.config import GenerateConfig, resolve_config
from mimicry.probes.prompting import PromptConvention

STAGE = "generate"
_SEED_STRIDE = 100_003


@dataclass
class GenerateSummary:
    """What a generation run did."""

    out_path: Path
    n_rows: int = 0
    n_parsed: int = 0
    n_correct: int = 0
    skipped: bool = False
    resumed_batches: int = 0
    exclusions: Exclusions = field(default_factory=Exclusions)


@dataclass(frozen=True)
class TraceReading:
    """How generations become trace lines: the model's name and prompt convention (its parsing)
    and an optional literal answer marker. Not stage options: they belong to the model."""

    name: str
    convention: PromptConvention
    delimiter: str | None = None

    def check(self) -> None:
        if not self.name.strip():
            raise InputError("model name must not be empty", field="name")


def _side_paths(out: Path) -> tuple[Path, Path]:
    return out.with_name(f".{out.name}.partial"), out.with_name(f".{out.name}.progress.json")


def generate(
    model_path,
    items_path,
    out_path,
    *,
    config: GenerateConfig | None = None,
    name: str | None = None,
    delimiter: str | None = None,
    open_tag: str = "<think>",
    close_tag: str = "</think>",
    prompt_style: str = "auto",
    open_think: bool = False,
    convention: PromptConvention | None = None,
    device: str | None = None,
    dtype: str | None = None,
    trust_remote_code: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
    **overrides,
) -> GenerateSummary:
    """Generate `samples` traces per item of `items_path` with the model at `model_path`.

    Returns a summary; the trace file (INTERFACES §3, plus `task`, `prompt`, `parse_error`,
    `n_generated_tokens`, `finished`) lands at `out_path`. `on_batch(done, total)` reports progress.
    `config` holds the sampling options (default `GenerateConfig()`); keyword overrides of its
    fields (max_new_tokens=..., batch_size=...) are validated on top, one line naming the field.
    `convention` is the model's prompt convention (shared with capture and steering); without it
    one is built from `prompt_style`, `open_think` and the tags. `delimiter`, a literal answer
    marker, overrides the convention's way of ending the reasoning.
    """
    from mimicry.data.items import read_items

    options = resolve_config(GenerateConfig, config, overrides)
    reading = TraceReading(
        name=name or Path(str(model_path).rstrip("/")).name,
        delimiter=delimiter,
        convention=convention
        or PromptConvention(
            style=prompt_style, think_open=open_tag, think_close=close_tag, open_think=open_think
        ),
    )
    reading.check()
    out = Path(out_path)
    items = read_items(items_path)
    partial, progress_file = _side_paths(out)
    hashed = {
        **options.model_dump(mode="json"),
        "name": reading.name,
        "delimiter": reading.delimiter,
        "convention": reading.convention.as_dict(),
    }
    inputs_hash = hash_inputs(Path(items_path), model_fingerprint(model_path), hashed)
    progress = _read_progress(progress_file)
    summary = GenerateSummary(out_path=out)
    if out.is_file() and progress.get("hash") == inputs_hash and progress.get("complete"):
        summary.skipped = True
        return _summarise_file(out, summary, reading.name)

    units = [(row, s) for row in items.itertuples(index=False) for s in range(options.samples)]
    batches = [units[i : i + options.batch_size] for i in range(0, len(units), options.batch_size)]
    done = 0
    if progress.get("hash") == inputs_hash and partial.is_file():
        done = int(progress.get("batches_done", 0))
        with partial.open("r+b") as handle:
            handle.truncate(int(progress.get("bytes", 0)))
    else:
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"")
        write_json(progress_file, {"hash": inputs_hash, "batches_done": 0, "bytes": 0})
    summary.resumed_batches = done

    if done < len(batches):
        from mimicry.distill.backends import load_backend

        engine = load_backend(
            options.backend,
            model_path,
            device=device,
            dtype=dtype,
            trust_remote_code=trust_remote_code,
            convention=reading.convention,
        )
        resolved = replace(reading, convention=engine.convention)
        for index in range(done, len(batches)):
            batch = batches[index]
            generations = engine.generate(
                [str(row.prompt) for row, _ in batch],
                temperature=options.temperature,
                max_new_tokens=options.max_new_tokens,
                seed=options.seed * _SEED_STRIDE + index,
            )
            rows = [
                trace_row(row, sample, gen, resolved, engine.count_tokens)
                for (row, sample), gen in zip(batch, generations, strict=True)
            ]
            with partial.open("ab") as handle:
                for trace in rows:
                    handle.write((json.dumps(trace, ensure_ascii=False) + "\n").encode())
                handle.flush()
                os.fsync(handle.fileno())
                offset = handle.tell()
            write_json(
                progress_file, {"hash": inputs_hash, "batches_done": index + 1, "bytes": offset}
            )
            if on_batch is not None:
                on_batch(index + 1, len(batches))

    from mimicry.data.traces import write_traces

    rows = [json.loads(line) for line in partial.read_text(encoding="utf-8").splitlines() if line]
    write_traces(rows, out)
    write_json(progress_file, {"hash": inputs_hash, "complete": True})
    partial.unlink(missing_ok=True)
    return _summarise_rows(rows, summary, reading.name)


def trace_row(item, sample: int, generation, reading: TraceReading, count_tokens) -> dict:
    """One trace line from an item, a sample index and a backend Generation (parsed under the
    model's resolved convention)."""
    parsed = reading.convention.parse(generation.text, delimiter=reading.delimiter)
    answer = parsed.answer if parsed.ok else ""
    row = {
        "item_id": str(item.item_id),
        "model": reading.name,
        "sample": int(sample),
        "reasoning": parsed.reasoning,
        "answer": answer,
        "correct": bool(parsed.ok and answers_match(answer, str(item.answer))),
        "n_reasoning_tokens": int(count_tokens(parsed.reasoning)),
        "task": str(item.task),
        "prompt": str(item.prompt),
        "parse_error": parsed.reason,
        "n_generated_tokens": int(generation.n_tokens),
        "finished": bool(generation.finished),
    }
    if not parsed.ok:
        row["generation"] = generation.text
    return row


def _read_progress(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _summarise_rows(rows: list[dict], summary: GenerateSummary, model: str) -> GenerateSummary:
    summary.n_rows = len(rows)
    for row in rows:
        if row.get("parse_error"):
            summary.exclusions.add(
                STAGE,
                f"unparsed_{row['parse_error']}",
                model=model,
                task=row.get("task", ""),
                example=f"{row['item_id']}#{row['sample']}",
            )
        else:
            summary.n_parsed += 1
        summary.n_correct += bool(row["correct"])
    return summary


def _summarise_file(out: Path, summary: GenerateSummary, model: str) -> GenerateSummary:
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line]
    return _summarise_rows(rows, summary, model)
