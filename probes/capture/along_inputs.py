"""Which trace positions an along-trace capture reads, and how items are tokenized and batched.

Prompt and trace are tokenized separately (as the per-item capture does), so the think-open token
and the trace region are exact; only parsed traces are read, and every item left out is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from pydantic import ConfigDict, model_validator

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.probes.capture.along_store import STAGE
from mimicry.probes.capture.config import AlongCaptureConfig
from mimicry.probes.capture.inputs import THINK_CLOSE, THINK_OPEN, EncodedItem, encode_item
from mimicry.probes.config import DEFAULT_FRACTIONS
from mimicry.probes.prompting import PromptConvention


class AlongOptions(AlongCaptureConfig):
    """Which trace positions to read, how the prompt is rendered, and how to batch (the
    batching fields and their defaults are `AlongCaptureConfig`'s).

    Attributes:
        fractions: fractions of the trace to read (0 = think-open token, 1 = last reasoning token).
        every: also read every `every`-th trace token (0: only the fractions).
        template: `raw` or `chat`, as the per-item capture renders the prompt.
        think_tags: the reasoning markers of this model family.
        max_tokens: longer items are excluded (None: no limit).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    every: int = 0
    template: str | dict = "raw"
    think_tags: tuple[str, str] = (THINK_OPEN, THINK_CLOSE)
    max_tokens: int | None = None

    @model_validator(mode="after")
    def _readable(self) -> AlongOptions:
        if not self.fractions and self.every <= 0:
            raise InputError("give fractions, --every S, or both", field="fractions")
        if any(not 0.0 <= f <= 1.0 for f in self.fractions):
            raise InputError(
                f"fractions must lie in [0, 1], got {self.fractions}", field="fractions"
            )
        if self.every < 0:
            raise InputError(f"every must be >= 0, got {self.every}", field="every")
        return self


@dataclass(frozen=True)
class AlongItem:
    """One item's tokens, where its trace starts (the think-open token) and the offsets read."""

    item: EncodedItem
    task: str
    trace_len: int
    offsets: tuple[int, ...] = field(default=())

    @property
    def start(self) -> int:
        return self.item.think_open


def trace_offsets(trace_len: int, fractions: Sequence[float], every: int) -> tuple[int, ...]:
    """Offsets 0..trace_len at the given fractions (rounded) and every `every`-th token."""
    found = {int(round(f * trace_len)) for f in fractions}
    if every > 0:
        found |= set(range(0, trace_len + 1, every))
    return tuple(sorted(found))


def parsed_reasoning(traces: pd.DataFrame, model: str, exclusions: Exclusions) -> dict[str, str]:
    """Reasoning per item from its lowest-numbered parsed sample (`parse_error` empty).

    Unparsed samples are counted here; items left without any are counted by `encode_along`.
    """
    errors = (
        traces["parse_error"].fillna("").astype(str)
        if "parse_error" in traces
        else pd.Series("", index=traces.index)
    )
    ok = errors == ""
    for reason, part in traces[~ok].groupby(errors[~ok]):
        exclusions.add(
            STAGE,
            f"unparsed_sample:{reason}",
            model=model,
            n=len(part),
            example=str(part["item_id"].iloc[0]),
        )
    chosen = traces[ok].sort_values(["item_id", "sample"]).drop_duplicates("item_id")
    return dict(zip(chosen["item_id"].astype(str), chosen["reasoning"].astype(str), strict=True))


def encode_along(
    tokenizer,
    items: pd.DataFrame,
    reasoning: dict[str, str],
    options: AlongOptions,
    *,
    model: str,
    exclusions: Exclusions,
) -> list[AlongItem]:
    """Tokenize prompt and trace separately (exact regions); every excluded item is counted."""
    open_tag, close_tag = options.think_tags
    convention = PromptConvention.from_value(options.template, options.think_tags)
    # the close tag ends the input only where reasoning is delimited by think tags
    close_len = (
        len(tokenizer(f" {close_tag}", add_special_tokens=False)["input_ids"])
        if convention.resolved(tokenizer).uses_think_tags
        else 0
    )
    encoded: list[AlongItem] = []
    for row in items.itertuples(index=False):
        item_id, task = str(row.item_id), str(getattr(row, "task", ""))
        if item_id not in reasoning:
            exclusions.add(STAGE, "no_parsed_trace", model=model, task=task, example=item_id)
            continue
        item = encode_item(
            tokenizer,
            item_id,
            str(row.prompt),
            reasoning[item_id],
            template=options.template,
            think_open=open_tag,
            think_close=close_tag,
        )
        trace_len = len(item.input_ids) - close_len - 1 - item.think_open
        if options.max_tokens is not None and len(item.input_ids) > options.max_tokens:
            exclusions.add(STAGE, "too_long", model=model, task=task, example=item_id)
        elif item.think_open < 0 or trace_len < 1:
            exclusions.add(STAGE, "empty_trace", model=model, task=task, example=item_id)
        else:
            offsets = trace_offsets(trace_len, options.fractions, options.every)
            encoded.append(AlongItem(item, task, trace_len, offsets))
    return encoded


def token_batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Longest first; a batch closes at `batch_size` items or `max_tokens` padded tokens."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    for index in order:
        last = batches[-1] if batches else None
        width = lengths[last[0]] if last else 0  # the first item of a batch is its longest
        if last and len(last) < batch_size and width * (len(last) + 1) <= max_tokens:
            last.append(index)
        else:
            batches.append([index])
    return batches


def plan_shards(encoded: Sequence[AlongItem], options: AlongOptions) -> list[list[list[int]]]:
    """Batches (indices into `encoded`), grouped into shards of about `shard_rows` rows."""
    lengths = [len(a.item.input_ids) for a in encoded]
    shards: list[list[list[int]]] = [[]]
    n_rows = 0
    for batch in token_batches(lengths, options.batch_size, options.max_batch_tokens):
        if n_rows >= options.shard_rows:
            shards.append([])
            n_rows = 0
        shards[-1].append(batch)
        n_rows += sum(len(encoded[i].offsets) for i in batch)
    return [s for s in shards if s]
