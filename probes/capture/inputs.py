"""Token sequences for capture: prompt alone or prompt + reasoning trace, left-padded batches.

The prompt and each trace piece are tokenized separately and concatenated, so the boundary
between the prompt region and the trace region (and the think-open token) is exact by
construction rather than found by searching decoded text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from jaxtyping import Bool, Int
from torch import Tensor

from mimicry.data.errors import InputError
from mimicry.probes.prompting import THINK_CLOSE, THINK_OPEN, PromptConvention

TEMPLATES = ("raw", "chat")
REGIONS = ("prompt", "trace")


@dataclass(frozen=True)
class EncodedItem:
    """One item's token ids and where its regions lie (indices into `input_ids`).

    Attributes:
        item_id: the item's id.
        input_ids: prompt tokens, then trace tokens (if any).
        prompt_len: number of prompt tokens; the trace region is `[prompt_len, len(input_ids))`.
        think_open: index of the (last token of the) think-open tag, -1 when the text has none.
    """

    item_id: str
    input_ids: tuple[int, ...]
    prompt_len: int
    think_open: int = -1

    @property
    def has_trace(self) -> bool:
        return len(self.input_ids) > self.prompt_len


def render_text(prompt: str, reasoning: str | None) -> str:
    """The raw-template text capture reads: `prompt <think> reasoning </think>` (for display/docs)."""
    if reasoning is None:
        return prompt
    return f"{prompt} {THINK_OPEN} {reasoning.strip()} {THINK_CLOSE}"


def _ids(tokenizer, text: str, *, special: bool) -> list[int]:
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def chat_prompt_text(tokenizer, prompt: str, think_open: str = THINK_OPEN) -> tuple[str, bool]:
    """Render a prompt with the tokenizer's chat template and generation prompt (no instruction).

    Returns the text and whether it already ends with the think-open tag (as the templates of
    DeepSeek-R1 distilled models do), in which case the trace must not add it again.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise InputError("the tokenizer has no chat template; use --template raw", field="template")
    convention = PromptConvention("chat", None, "", think_open)
    text = convention.render(tokenizer, prompt)
    return text, text.rstrip().endswith(think_open)


def encode_item(
    tokenizer,
    item_id: str,
    prompt: str,
    reasoning: str | None = None,
    *,
    template: str | dict | PromptConvention = "raw",
    think_open: str = THINK_OPEN,
    think_close: str = THINK_CLOSE,
) -> EncodedItem:
    """Tokenize one item as its rendered prompt (+ the reasoning trace), regions exact.

    `template` is the model's prompt convention (as generation used it), or a legacy name: `raw`
    renders `prompt + " <think> " + reasoning + " </think>"` with the tokenizer's special tokens
    (bos) on the prompt; `chat` wraps the prompt in the chat template first. Legacy names read
    `think_open` / `think_close` as the family's markers. A convention without think tags (its
    reasoning ends at an answer marker) reads the reasoning as written right after the generation
    prompt; its reasoning opens there, so `think_open` is the last prompt token.
    """
    convention = PromptConvention.from_value(template, (think_open, think_close))
    convention = convention.resolved(tokenizer)
    think_open, think_close = convention.think_open, convention.think_close
    open_index = -1
    ends_with_tag = False
    if convention.style == "chat":
        text = convention.render(tokenizer, prompt)
        prompt_ids = _ids(tokenizer, text, special=False)
        if convention.uses_think_tags and text.rstrip().endswith(think_open):
            ends_with_tag = True
            open_index = len(_ids(tokenizer, text.rstrip(), special=False)) - 1
    else:  # an opened think tag starts the trace region, not the prompt's
        text = replace(convention, open_think=False).render(tokenizer, prompt)
        prompt_ids = _ids(tokenizer, text, special=True)
    if not convention.uses_think_tags:
        open_index = len(prompt_ids) - 1
    if reasoning is None:
        return EncodedItem(item_id, tuple(prompt_ids), len(prompt_ids), open_index)
    trace_ids: list[int] = []
    if not convention.uses_think_tags:
        trace_ids += _ids(tokenizer, reasoning.strip(), special=False) if reasoning.strip() else []
        return EncodedItem(item_id, tuple(prompt_ids + trace_ids), len(prompt_ids), open_index)
    if not ends_with_tag:
        trace_ids += _ids(tokenizer, f" {think_open}", special=False)
        open_index = len(prompt_ids) + len(trace_ids) - 1
    trace_ids += _ids(tokenizer, f" {reasoning.strip()}", special=False)
    trace_ids += _ids(tokenizer, f" {think_close}", special=False)
    return EncodedItem(item_id, tuple(prompt_ids + trace_ids), len(prompt_ids), open_index)


@dataclass
class Batch:
    """A left-padded batch with explicit position ids and per-item region masks."""

    item_ids: list[str]
    input_ids: Int[Tensor, "batch seq"]
    attention_mask: Int[Tensor, "batch seq"]
    position_ids: Int[Tensor, "batch seq"]
    regions: Bool[Tensor, "batch region seq"]
    last_prompt: Int[Tensor, " batch"]
    think_open: Int[Tensor, " batch"]

    def to(self, device: str | torch.device) -> Batch:
        """Move the tensors the model reads to `device`."""
        return Batch(
            self.item_ids,
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.position_ids.to(device),
            self.regions.to(device),
            self.last_prompt.to(device),
            self.think_open.to(device),
        )


def position_ids_from_mask(mask: Int[Tensor, "batch seq"]) -> Int[Tensor, "batch seq"]:
    """Positions counted from each item's first real token (pads get 0), as generation does."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def collate(items: Sequence[EncodedItem], pad_id: int) -> Batch:
    """Left-pad items into one batch; position ids come from the mask, never from the column."""
    width = max(len(item.input_ids) for item in items)
    n = len(items)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    regions = torch.zeros((n, len(REGIONS), width), dtype=torch.bool)
    last_prompt = torch.empty(n, dtype=torch.long)
    think_open = torch.full((n,), -1, dtype=torch.long)
    for row, item in enumerate(items):
        offset = width - len(item.input_ids)
        input_ids[row, offset:] = torch.tensor(item.input_ids, dtype=torch.long)
        mask[row, offset:] = 1
        regions[row, 0, offset : offset + item.prompt_len] = True
        regions[row, 1, offset + item.prompt_len :] = True
        last_prompt[row] = offset + item.prompt_len - 1
        if item.think_open >= 0:
            think_open[row] = offset + item.think_open
    return Batch(
        [item.item_id for item in items],
        input_ids,
        mask,
        position_ids_from_mask(mask),
        regions,
        last_prompt,
        think_open,
    )


def plan_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Group indices into batches of similar length (longest first) so padding stays small."""
    if batch_size < 1:
        raise InputError("batch size must be at least 1", field="batch_size")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
