"""Reduce a [batch, seq, d_model] residual to the few positions probes read, inside the hook.

Every position is a weighting over tokens (one-hot for a token, uniform over a region for a
mean), so all of them come out of one batched matmul per layer and the full residual never
leaves the forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from mimicry.data.errors import InputError
from mimicry.probes.capture.inputs import Batch

POSITIONS = ("last_prompt", "mean_prompt", "mean_trace", "think_open")
TRACE_POSITIONS = ("mean_trace", "think_open")


def parse_positions(text: str | Sequence[str]) -> tuple[str, ...]:
    """Parse `last_prompt,mean_trace` (or a list) into known, de-duplicated position names."""
    names = [p.strip() for p in (text.split(",") if isinstance(text, str) else text)]
    names = [p for p in names if p]
    unknown = [p for p in names if p not in POSITIONS]
    if unknown or not names:
        raise InputError(
            f"unknown position(s) {unknown or names}; choose from {', '.join(POSITIONS)}",
            field="positions",
        )
    return tuple(dict.fromkeys(names))


def position_available(position: str, prompt_len: int, n_tokens: int, think_open: int) -> bool:
    """Whether an item has the tokens a position needs (a trace, a think-open tag)."""
    if position == "mean_trace":
        return n_tokens > prompt_len
    if position == "think_open":
        return think_open >= 0
    return prompt_len > 0


def position_weights(
    batch: Batch, positions: Sequence[str], dtype: torch.dtype
) -> Float[Tensor, "batch position seq"]:
    """Token weights per position: one-hot rows for single tokens, normalised region masks for means."""
    n, width = batch.input_ids.shape
    weights = torch.zeros((n, len(positions), width), dtype=dtype, device=batch.input_ids.device)
    rows = torch.arange(n, device=batch.input_ids.device)
    for column, position in enumerate(positions):
        if position == "last_prompt":
            weights[rows, column, batch.last_prompt] = 1.0
        elif position == "think_open":
            weights[rows, column, batch.think_open.clamp(min=0)] = (batch.think_open >= 0).to(dtype)
        else:
            region = batch.regions[:, 0 if position == "mean_prompt" else 1].to(dtype)
            weights[:, column] = region / region.sum(-1, keepdim=True).clamp(min=1)
    return weights


def reduce_positions(
    hidden: Float[Tensor, "batch seq d_model"], weights: Float[Tensor, "batch position seq"]
) -> Float[Tensor, "batch position d_model"]:
    """Apply position weights to one layer's residual in float32; one bmm, the result is tiny."""
    return torch.bmm(weights.float(), hidden.float())
