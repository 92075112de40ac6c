"""Capture backends: each runs one batch and returns position-reduced residuals and entropy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from jaxtyping import Float
from torch import Tensor

from mimicry.data.errors import InputError
from mimicry.probes.capture.config import CaptureBackend

BACKENDS = get_args(CaptureBackend)  # the config's choices, one list


@dataclass
class BatchResult:
    """What one batch yields; `resid` layer 0 is the embeddings, layer l the output of block l."""

    resid: Float[Tensor, "batch layer position d_model"]
    entropy: Float[Tensor, "batch layer head region"] | None = None
    entropy_norm: Float[Tensor, "batch layer head region"] | None = None


def make_backend(name: str, **kwargs):
    """Build the named backend (imports its library only when chosen)."""
    if name == "nnsight":
        from mimicry.probes.capture.backends.nnsight_backend import NnsightBackend

        return NnsightBackend(**kwargs)
    if name == "transformer_lens":
        from mimicry.probes.capture.backends.tl_backend import TransformerLensBackend

        return TransformerLensBackend(**kwargs)
    raise InputError(
        f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}", field="backend"
    )
