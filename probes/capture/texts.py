"""From an item table (+ traces) to encoded token sequences, every exclusion counted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.probes.capture.inputs import EncodedItem, encode_item
from mimicry.probes.capture.positions import position_available

STAGE = "capture"


def select_traces(
    traces: pd.DataFrame, trace_model: str | None, source: str | Path
) -> dict[str, str | None]:
    """Reasoning text of sample 0 per item, from one model's traces; None for a sample that did
    not parse (its reasoning is not a trace; `encode_items` excludes and counts the item)."""
    models = sorted(traces["model"].unique())
    if trace_model is None:
        if len(models) > 1:
            raise InputError(
                f"traces hold several models ({', '.join(models)}); choose one with --trace-model",
                file=source,
                field="model",
            )
        trace_model = models[0] if models else None
    elif trace_model not in models:
        raise InputError(
            f"no traces of model {trace_model!r} (found {', '.join(models) or 'none'})",
            file=source,
            field="model",
        )
    chosen = traces[(traces["model"] == trace_model) & (traces["sample"] == 0)]
    parsed = chosen["parsed"] if "parsed" in chosen else pd.Series(True, index=chosen.index)
    texts = [str(r) if ok else None for r, ok in zip(chosen["reasoning"], parsed, strict=True)]
    return dict(zip(chosen["item_id"].astype(str), texts, strict=True))


def encode_items(
    tokenizer,
    items: pd.DataFrame,
    reasoning: dict[str, str | None] | None,
    *,
    positions: Sequence[str],
    template,
    think_tags: tuple[str, str],
    max_tokens: int | None,
    model_name: str,
    exclusions: Exclusions,
) -> list[EncodedItem]:
    """Tokenize every item; items without a (parsed) trace, too long, or lacking a position are
    excluded and counted. `template`: the model's prompt convention (or a legacy name)."""
    encoded: list[EncodedItem] = []
    for row in items.itertuples(index=False):
        item_id, task = str(row.item_id), str(getattr(row, "task", ""))
        text = None
        if reasoning is not None:
            if item_id not in reasoning:
                exclusions.add(STAGE, "no_trace", model=model_name, task=task, example=item_id)
                continue
            text = reasoning[item_id]
            if text is None:
                exclusions.add(
                    STAGE, "unparsed_trace", model=model_name, task=task, example=item_id
                )
                continue
        item = encode_item(
            tokenizer,
            item_id,
            str(row.prompt),
            text,
            template=template,
            think_open=think_tags[0],
            think_close=think_tags[1],
        )
        if max_tokens is not None and len(item.input_ids) > max_tokens:
            exclusions.add(STAGE, "too_long", model=model_name, task=task, example=item_id)
            continue
        missing = [
            p
            for p in positions
            if not position_available(p, item.prompt_len, len(item.input_ids), item.think_open)
        ]
        if missing:
            exclusions.add(STAGE, f"no_{missing[0]}", model=model_name, task=task, example=item_id)
            continue
        encoded.append(item)
    return encoded
