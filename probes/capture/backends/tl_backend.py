"""TransformerLens 4.x backend (TransformerBridge), kept as an independent second implementation.

The bridge derives positions without the attention mask (TransformerLens #1609), so left-padded
batches would be read at wrong positions. This backend therefore runs every item unpadded, one
at a time: exact, slower, and the batch size option does not apply. Entropy comes from the
bridge's `hook_pattern` (it forces eager attention).
"""

from __future__ import annotations

import torch

from mimicry.probes.architectures import Architecture
from mimicry.probes.capture.backends import BatchResult
from mimicry.probes.capture.entropy import entropy_from_probabilities, region_means
from mimicry.probes.capture.inputs import Batch
from mimicry.probes.capture.positions import reduce_positions


class TransformerLensBackend:
    """Capture with `TransformerBridge.run_with_cache` and a names filter."""

    name = "transformer_lens"

    def __init__(
        self,
        *,
        model,
        tokenizer,
        architecture: Architecture,
        entropy_method: str | None,
        model_path: str,
        device: str = "cpu",
    ):
        from transformer_lens.model_bridge import TransformerBridge

        self.architecture = architecture
        self.entropy_method = None if entropy_method is None else "eager"
        self.n_layers = model.config.num_hidden_layers
        self.bridge = TransformerBridge.boot_transformers(
            str(model_path), tokenizer=tokenizer, device=device, dtype=model.dtype, hf_model=model
        )
        wanted = {"blocks.0.hook_resid_pre"}
        wanted |= {f"blocks.{i}.hook_resid_post" for i in range(self.n_layers)}
        if self.entropy_method is not None:
            wanted |= {f"blocks.{i}.attn.hook_pattern" for i in range(self.n_layers)}
        self.names = wanted

    def run(self, batch: Batch, weights: torch.Tensor) -> BatchResult:
        """Run each item of the batch unpadded and stack the results."""
        rows = [self._run_one(batch, weights, row) for row in range(batch.input_ids.shape[0])]
        resid = torch.cat([r.resid for r in rows])
        if self.entropy_method is None:
            return BatchResult(resid)
        return BatchResult(
            resid,
            torch.cat([r.entropy for r in rows]),
            torch.cat([r.entropy_norm for r in rows]),
        )

    def _run_one(self, batch: Batch, weights: torch.Tensor, row: int) -> BatchResult:
        n = int(batch.attention_mask[row].sum())
        ids = batch.input_ids[row, -n:][None]
        item_weights = weights[row : row + 1, :, -n:]
        with torch.inference_mode():
            _, cache = self.bridge.run_with_cache(ids, names_filter=lambda name: name in self.names)
        names = ["blocks.0.hook_resid_pre"]
        names += [f"blocks.{i}.hook_resid_post" for i in range(self.n_layers)]
        resid = torch.stack([reduce_positions(cache[name], item_weights) for name in names], dim=1)
        if self.entropy_method is None:
            return BatchResult(resid)
        regions = batch.regions[row : row + 1, :, -n:]
        n_keys = torch.arange(1, n + 1, device=ids.device)[None]
        pairs = [
            region_means(
                entropy_from_probabilities(cache[f"blocks.{i}.attn.hook_pattern"]), n_keys, regions
            )
            for i in range(self.n_layers)
        ]
        return BatchResult(
            resid,
            torch.stack([m for m, _ in pairs], dim=1),
            torch.stack([n_ for _, n_ in pairs], dim=1),
        )
