"""Batch size from free memory, so one config runs on a laptop CPU and on an 80 GB GPU alike."""

from __future__ import annotations

import os

import torch

# Peak bytes a forward pass needs per token and unit of width, relative to one residual vector:
# residual + q/k/v + attention output + 4x MLP intermediates, with slack for the allocator.
_ACTIVATION_FACTOR = 24
_SAFETY = 0.5  # use at most half of what is free


def free_bytes(device: str | torch.device) -> int:
    """Free memory on `device`: CUDA's own count, or the OS's available RAM for the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def auto_batch_size(
    *,
    n_tokens: int,
    d_model: int,
    n_layers: int,
    dtype: torch.dtype,
    device: str | torch.device,
    cap: int = 256,
) -> int:
    """The largest batch whose activations fit in half the free memory (at least 1, at most `cap`).

    Per item a forward needs about `_ACTIVATION_FACTOR x n_tokens x d_model` values at the widest
    layer, plus the captured residuals (layers + 1 vectors per position, kept in fp32).
    """
    bytes_per_value = torch.finfo(dtype).bits // 8
    per_item = (
        n_tokens * d_model * (_ACTIVATION_FACTOR * bytes_per_value)
        + (n_layers + 1) * d_model * 4 * 4
    )
    budget = int(free_bytes(device) * _SAFETY)
    return max(1, min(cap, budget // max(per_item, 1)))
