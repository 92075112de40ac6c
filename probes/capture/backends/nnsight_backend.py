"""The default backend: nnsight around any Hugging Face causal LM.

The residual of every layer is reduced to the requested positions inside the trace (one bmm per
layer), so nothing of size [batch, seq, d_model] is kept. Attention entropy comes from the
recording SDPA wrapper (chunked or fused) or, as the reference, from eager attention weights.
"""

from __future__ import annotations

import contextlib

import torch

from mimicry.probes.architectures import Architecture, resolve_path
from mimicry.probes.capture.attention_hook import EntropyRecorder, recording, use_entropy_attention
from mimicry.probes.capture.backends import BatchResult
from mimicry.probes.capture.entropy import causal_allowed, entropy_from_probabilities, region_means
from mimicry.probes.capture.inputs import Batch
from mimicry.probes.capture.positions import reduce_positions


class NnsightBackend:
    """Capture through `nnsight.TransformersModel` wrapping an already loaded model."""

    name = "nnsight"

    def __init__(
        self,
        *,
        model,
        tokenizer,
        architecture: Architecture,
        entropy_method: str | None,
        remote: str = "no",
        source: str | None = None,
    ):
        """`remote`: "no" runs here; "local" ships each trace through nnsight's serialisation
        and runs it here (a dry run of NDIF); "ndif" sends it to NDIF, where the weights live, so
        `model` is None and `source` names the hub model."""
        import nnsight

        self.model = model
        self.architecture = architecture
        self.entropy_method = entropy_method
        self.remote = {"no": False, "local": "local", "ndif": True}[remote]
        if entropy_method in ("chunked", "fused"):
            use_entropy_attention(model)
        elif entropy_method == "eager":
            model.set_attn_implementation("eager")
        if remote == "ndif":
            self.lm = nnsight.LanguageModel(source, tokenizer=tokenizer)
        else:
            self.lm = nnsight.TransformersModel(model, tokenizer=tokenizer)

    def run(self, batch: Batch, weights: torch.Tensor) -> BatchResult:
        """Run one left-padded batch; returns [batch, layers + 1, positions, d_model] residuals."""
        import nnsight

        method = self.entropy_method
        recorder = (
            EntropyRecorder(batch.regions, method) if method in ("chunked", "fused") else None
        )
        eager = method == "eager"
        with (
            torch.inference_mode(),
            recording(recorder) if recorder is not None else contextlib.nullcontext(),
        ):
            with self.lm.trace(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                position_ids=batch.position_ids,
                output_attentions=eager,
                logits_to_keep=1,
                remote=self.remote,
            ):
                layers = resolve_path(self.lm, self.architecture.layers)
                states = nnsight.save([])
                states.append(reduce_positions(layers[0].input, weights))
                for layer in layers:
                    states.append(reduce_positions(layer.output, weights))
                attentions = nnsight.save(self.lm.output.attentions) if eager else None
        result = BatchResult(torch.stack(list(states), dim=1))
        if recorder is not None:
            result.entropy, result.entropy_norm = recorder.stacked(len(states) - 1)
        elif eager:
            allowed = causal_allowed(batch.attention_mask)
            n_keys = allowed[:, 0].sum(-1)
            pairs = [
                region_means(entropy_from_probabilities(a), n_keys, batch.regions)
                for a in attentions
            ]
            result.entropy = torch.stack([m for m, _ in pairs], dim=1)
            result.entropy_norm = torch.stack([n for _, n in pairs], dim=1)
        return result
