"""Attention entropy from inside the model's own attention call.

transformers routes every attention layer through a registered attention function, called with
the exact queries and keys the kernel sees (after RoPE, q/k norms and any other per-model
detail), the layer's mask (padding, causality, sliding windows) and its scale. Registering an
SDPA wrapper there gives entropy for any supported architecture without re-implementing RoPE,
and the layer's output is still computed by SDPA itself, bit for bit as without capture.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from mimicry.data.errors import InputError
from mimicry.probes.capture.entropy import (
    additive_bias,
    entropy_chunked,
    entropy_fused,
    keys_attended,
    region_means,
)

IMPLEMENTATION = "mimicry_sdpa"
_ACTIVE: list[EntropyRecorder] = []


class EntropyRecorder:
    """Collects per-layer region means of attention entropy for one batch."""

    def __init__(self, regions: Bool[Tensor, "batch region seq"], method: str) -> None:
        self.regions = regions
        self.method = method
        self.layers: dict[int, tuple[Tensor, Tensor]] = {}
        self._bias_cache: tuple | None = None

    def record_attention(
        self, layer: int, query: Tensor, key: Tensor, mask: Tensor | None, scaling: float
    ) -> None:
        """Compute this layer's per-query entropy and keep only its region means."""
        allowed = _allowed_from_mask(mask)
        if self.method == "fused":
            entropy = entropy_fused(query, key, self._bias(mask, allowed), scaling)
        else:
            entropy = entropy_chunked(query, key, allowed, scaling)
        self.record(layer, entropy, allowed)

    def _bias(self, mask: Tensor | None, allowed: Tensor | None) -> Tensor | None:
        """Float mask for the flash kernel, cached while layers share the same mask tensor."""
        if allowed is None:
            return None
        key = (mask.data_ptr(), tuple(mask.shape))
        if self._bias_cache is None or self._bias_cache[0] != key:
            self._bias_cache = (key, additive_bias(allowed, torch.float32))
        return self._bias_cache[1]

    def record(self, layer: int, entropy: Tensor, allowed: Tensor | None) -> None:
        """Keep only the region means of a layer's per-query entropy."""
        b, _, t = entropy.shape
        n_keys = keys_attended(allowed, b, t, entropy.device)
        self.layers[layer] = region_means(entropy, n_keys, self.regions)

    def stacked(
        self, n_layers: int
    ) -> tuple[Float[Tensor, "batch layer head region"], Float[Tensor, "batch layer head region"]]:
        """Entropy and normalised entropy for every layer, in layer order."""
        missing = [i for i in range(n_layers) if i not in self.layers]
        if missing:
            raise RuntimeError(f"attention entropy missing for layers {missing}")
        means = torch.stack([self.layers[i][0] for i in range(n_layers)], dim=1)
        norms = torch.stack([self.layers[i][1] for i in range(n_layers)], dim=1)
        return means, norms


def _allowed_from_mask(mask: Tensor | None) -> Tensor | None:
    """The SDPA mask as booleans (True = may attend); None stays None (plain causal)."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return mask
    return mask == 0


def _attention(module, query, key, value, attention_mask, **kwargs):
    """SDPA (the layer's output, exactly as without capture), plus entropy for the active recorder."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if _ACTIVE:
        if kwargs.get("softcap") is not None or kwargs.get("s_aux") is not None:
            raise InputError(
                "attention sinks and logit soft-capping are not supported by entropy capture"
            )
        scaling = kwargs.get("scaling")
        scale = query.shape[-1] ** -0.5 if scaling is None else float(scaling)
        _ACTIVE[-1].record_attention(module.layer_idx, query, key, attention_mask, scale)
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def register_attention() -> None:
    """Register the wrapper and SDPA's mask builder under IMPLEMENTATION (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(IMPLEMENTATION, _attention)
    AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)


def use_entropy_attention(model) -> None:
    """Switch a loaded model to the recording SDPA wrapper (output unchanged when not recording)."""
    register_attention()
    model.set_attn_implementation(IMPLEMENTATION)


@contextlib.contextmanager
def recording(recorder: EntropyRecorder) -> Iterator[EntropyRecorder]:
    """Make `recorder` receive every attention call until the block ends."""
    _ACTIVE.append(recorder)
    try:
        yield recorder
    finally:
        _ACTIVE.remove(recorder)
