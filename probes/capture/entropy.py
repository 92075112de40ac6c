"""Attention entropy per query without materialising the attention matrix.

For one query, with scores s_j = scale * q . k_j over the keys it may attend,
H = logsumexp(s) - sum_j p_j s_j. Three ways to get it, all checked against each other and
against the model's own eager `output_attentions`:

- `chunked`: exact softmax over keys for a block of queries at a time (any device); peak memory
  batch x heads x chunk x tokens, with the chunk chosen so that stays under a fixed budget.
- `fused`: CPU flash attention that returns the logsumexp, run with V = K so its output is
  sum_j p_j k_j and sum_j p_j s_j = scale * q . output; memory batch x heads x tokens x head_dim
  (plus one float copy of the mask SDPA already holds, built once per batch).
- `eager`: from the probabilities eager attention returns (the reference; O(tokens^2)).
"""

from __future__ import annotations

from typing import get_args

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from mimicry.probes.capture.config import EntropyMethod

ENTROPY_METHODS = get_args(EntropyMethod)  # the config's choices, one list
CHUNK_BUDGET = 1 << 23  # score elements per chunk (32 MiB in fp32)


def causal_allowed(
    attention_mask: Int[Tensor, "batch seq"], sliding_window: int | None = None
) -> Bool[Tensor, "batch 1 seq seq"]:
    """Keys each query may attend: itself and earlier non-pad tokens (within a window if any)."""
    width = attention_mask.shape[-1]
    index = torch.arange(width, device=attention_mask.device)
    allowed = index[None, :] <= index[:, None]
    if sliding_window is not None:
        allowed = allowed & (index[:, None] - index[None, :] < sliding_window)
    return allowed[None, None] & attention_mask.bool()[:, None, None, :]


def _allowed_block(
    allowed: Bool[Tensor, "batch 1 seq seq"] | None, start: int, stop: int, device
) -> Bool[Tensor, "batch 1 chunk keys"]:
    if allowed is not None:
        return allowed[:, :, start:stop, :stop]
    rows = torch.arange(start, stop, device=device)[:, None]
    return (torch.arange(stop, device=device)[None, :] <= rows)[None, None]


def keys_attended(
    allowed: Bool[Tensor, "batch 1 seq seq"] | None, batch: int, width: int, device
) -> Int[Tensor, "batch seq"]:
    """Number of keys each query attends (None means plain causal attention without pads)."""
    if allowed is None:
        return torch.arange(1, width + 1, device=device).expand(batch, width)
    return allowed[:, 0].sum(-1)


def _grouped(query: Tensor, key: Tensor) -> tuple[Tensor, Tensor]:
    """View queries as [batch, kv_heads, group, seq, dim] so GQA keys broadcast without copies."""
    b, h, t, d = query.shape
    kv = key.shape[1]
    return query.view(b, kv, h // kv, t, d), key[:, :, None]


def entropy_chunked(
    query: Float[Tensor, "batch head seq dim"],
    key: Float[Tensor, "batch kv_head seq dim"],
    allowed: Bool[Tensor, "batch 1 seq seq"] | None,
    scaling: float,
    *,
    chunk: int | None = None,
) -> Float[Tensor, "batch head seq"]:
    """Exact entropy of every query's attention row, a block of queries at a time.

    Causality is used to stop each block at its last query, so only the lower triangle is
    computed. Scores are float32 whatever the model dtype.
    """
    b, h, t, _ = query.shape
    q, k = _grouped(query.float() * scaling, key.float())
    if chunk is None:
        chunk = max(1, min(t, CHUNK_BUDGET // max(1, b * h * t)))
    floor = torch.finfo(torch.float32).min
    pieces = []
    for start in range(0, t, chunk):
        stop = min(t, start + chunk)
        scores = torch.matmul(q[..., start:stop, :], k[..., :stop, :].transpose(-1, -2))
        block = _allowed_block(allowed, start, stop, query.device)[:, :, None]
        scores.masked_fill_(~block, floor)
        # Shift by the row max, then H = log Z - sum_j e_j (s_j - max) / Z with e_j = exp(s_j - max).
        scores.sub_(scores.amax(dim=-1, keepdim=True))
        weights = torch.exp(scores)
        total = weights.sum(-1)
        pieces.append(torch.log(total) - torch.linalg.vecdot(weights, scores) / total)
    return torch.cat(pieces, dim=-1).reshape(b, h, t)


def fused_available(device: torch.device | str) -> bool:
    """The fused path needs the CPU flash-attention kernel that returns logsumexp."""
    return torch.device(device).type == "cpu" and hasattr(
        torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"
    )


def additive_bias(allowed: Bool[Tensor, "batch 1 seq seq"], dtype: torch.dtype) -> Tensor:
    """The float mask the CPU flash kernel takes (0 where allowed, the dtype's minimum elsewhere)."""
    bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return bias.masked_fill_(~allowed, torch.finfo(dtype).min)


def entropy_fused(
    query: Float[Tensor, "batch head seq dim"],
    key: Float[Tensor, "batch kv_head seq dim"],
    bias: Float[Tensor, "batch 1 seq seq"] | None,
    scaling: float,
) -> Float[Tensor, "batch head seq"]:
    """Entropy from one flash-attention call with V = K: H = lse - scale * q . (sum_j p_j k_j).

    `bias` is `additive_bias(allowed)` (None: plain causal); build it once per batch.
    """
    q = query.float()
    k = key.float()
    if k.shape[1] != q.shape[1]:
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        q, k, k, 0.0, bias is None, attn_mask=bias, scale=scaling
    )
    return lse - scaling * (q * out).sum(-1)


def entropy_from_probabilities(
    probabilities: Float[Tensor, "batch head seq seq"],
) -> Float[Tensor, "batch head seq"]:
    """The reference: -sum_j p_j log p_j from eager attention weights (0 log 0 = 0)."""
    p = probabilities.float()
    return -torch.special.xlogy(p, p).sum(-1)


def region_means(
    entropy: Float[Tensor, "batch head seq"],
    n_keys: Int[Tensor, "batch seq"],
    regions: Bool[Tensor, "batch region seq"],
) -> tuple[Float[Tensor, "batch head region"], Float[Tensor, "batch head region"]]:
    """Mean entropy over each region's queries, and mean of entropy / log(keys) over queries with
    at least two keys (NaN where a region has no such query)."""
    weights = regions.float()
    # Pad queries attend to nothing and hold inf/NaN; they belong to no region, drop them first.
    entropy = torch.where(regions.any(1)[:, None, :], entropy, 0.0)
    mean = torch.einsum("bht,brt->bhr", entropy, weights) / weights.sum(-1)[:, None, :]
    several = n_keys >= 2
    log_keys = torch.log(n_keys.clamp(min=2).float())
    normalised = torch.where(several[:, None, :], entropy / log_keys[:, None, :], 0.0)
    norm_weights = weights * several[:, None, :]
    norm = torch.einsum("bht,brt->bhr", normalised, norm_weights) / norm_weights.sum(-1)[:, None, :]
    return mean, norm
