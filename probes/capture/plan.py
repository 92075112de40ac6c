"""What a capture reads before it runs: the model's config and tokenizer, the encoded items, the
batch size, and (last, because it is the slow part) the weights wrapped in a backend.

A model is a local folder or hub name, or an already loaded Hugging Face causal LM (then its
tokenizer is passed too). Both end in the same `ModelHandle`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.probes.architectures import (
    Architecture,
    architecture_for_config,
    validate_architecture,
)
from mimicry.probes.capture.backends import make_backend
from mimicry.probes.capture.inputs import EncodedItem
from mimicry.probes.capture.settings import CaptureSettings
from mimicry.probes.capture.texts import encode_items
from mimicry.probes.prompting import PromptConvention


@dataclass
class ModelHandle:
    """A model to capture: its config, architecture and tokenizer; `model` is the loaded module
    (None until `load` for a path, and always None for NDIF, where the weights stay remote)."""

    source: str
    config: Any
    architecture: Architecture
    tokenizer: Any
    model: Any = None
    path: str | Path | None = None

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return self.tokenizer.eos_token_id if pad is None else pad

    @property
    def context(self) -> int | None:
        return getattr(self.config, "max_position_embeddings", None) or getattr(
            self.config, "n_positions", None
        )


def is_loaded_model(model: Any) -> bool:
    """A loaded module (has a config and parameters) rather than a folder or hub name."""
    return hasattr(model, "config") and hasattr(model, "parameters")


def resolve_model(model, tokenizer, settings: CaptureSettings) -> ModelHandle:
    """Config, architecture and tokenizer of a path or loaded model, before any weights load."""
    if is_loaded_model(model):
        source = str(getattr(model.config, "_name_or_path", "") or type(model).__name__)
        if tokenizer is None:
            raise InputError(
                "a loaded model needs its tokenizer: pass tokenizer=", field="tokenizer"
            )
        if settings.remote == "ndif":
            raise InputError("NDIF runs a hub name, not a loaded model", field="remote")
        architecture = architecture_for_config(model.config, source=source)
        return ModelHandle(source, model.config, architecture, tokenizer, model=model)
    from transformers import AutoConfig

    from mimicry.probes.loading import load_tokenizer

    source = str(model)
    try:
        config = AutoConfig.from_pretrained(
            source, trust_remote_code=settings.trust_remote_code, revision=settings.revision
        )
    except (OSError, ValueError) as error:
        raise InputError(
            f"cannot read the model config: {' '.join(str(error).split())[:300]}", file=source
        ) from error
    architecture = architecture_for_config(config, source=source)
    if tokenizer is None:
        tokenizer = load_tokenizer(
            model, trust_remote_code=settings.trust_remote_code, revision=settings.revision
        )
    return ModelHandle(source, config, architecture, tokenizer, path=model)


def resolved_convention(handle: ModelHandle, settings: CaptureSettings):
    """The model's prompt convention resolved for its tokenizer as generation resolves it, or
    None for a legacy template name (`raw`, `chat`)."""
    if isinstance(settings.template, str):
        return None
    return PromptConvention.from_value(settings.template).resolved(handle.tokenizer)


def encode(
    handle: ModelHandle,
    items: pd.DataFrame,
    reasoning: dict[str, str] | None,
    settings: CaptureSettings,
    name: str,
    *,
    source: str | Path | None = None,
) -> tuple[list[EncodedItem], Exclusions, int]:
    """Encoded items (every exclusion counted) and the batch size to run them with."""
    exclusions = Exclusions()
    convention = resolved_convention(handle, settings)
    encoded = encode_items(
        handle.tokenizer,
        items,
        reasoning,
        positions=settings.positions,
        template=convention or settings.template,
        think_tags=tuple(settings.think_tags)
        if convention is None
        else (convention.think_open, convention.think_close),
        max_tokens=settings.max_tokens or handle.context,
        model_name=name,
        exclusions=exclusions,
    )
    if not encoded:
        raise InputError(
            f"no item left to capture ({exclusions.total()} excluded)", file=source or "<items>"
        )
    return encoded, exclusions, batch_size_for(handle, encoded, settings)


def batch_size_for(handle: ModelHandle, encoded, settings: CaptureSettings) -> int:
    """The requested batch size; 0 chooses it from free memory and the longest item."""
    if settings.batch_size != 0:
        return settings.batch_size
    from mimicry.probes.loading import resolve_dtype
    from mimicry.probes.memory import auto_batch_size

    return auto_batch_size(
        n_tokens=max(len(e.input_ids) for e in encoded),
        d_model=handle.config.hidden_size,
        n_layers=handle.config.num_hidden_layers,
        dtype=resolve_dtype(settings.dtype),
        device=settings.input_device,
    )


def load_weights(handle: ModelHandle, settings: CaptureSettings) -> None:
    """Load a path's weights (SDPA attention, safetensors only) unless NDIF runs them."""
    if handle.model is not None or settings.remote == "ndif":
        return
    from mimicry.probes.loading import load_causal_lm

    handle.model = load_causal_lm(
        handle.path,
        dtype=settings.dtype,
        device=settings.device,
        trust_remote_code=settings.trust_remote_code,
        revision=settings.revision,
        attn_implementation="sdpa",
    )


def make_engine(handle: ModelHandle, settings: CaptureSettings):
    """The backend that runs batches of this model (weights must be loaded)."""
    if handle.model is not None:
        validate_architecture(handle.model, source=handle.source)
    if settings.backend == "transformer_lens":
        extra = {"model_path": str(handle.path or handle.source), "device": settings.device}
    else:
        extra = {"remote": settings.remote, "source": handle.source}
    return make_backend(
        settings.backend,
        model=handle.model,
        tokenizer=handle.tokenizer,
        architecture=handle.architecture,
        entropy_method=settings.resolved_method,
        **extra,
    )


@contextlib.contextmanager
def borrowed(model) -> Iterator[None]:
    """Run a caller's model in eval mode and give it back as it came: training flag and attention
    implementation (the entropy methods switch it to their recording wrapper or to eager)."""
    training = model.training
    before = getattr(model.config, "_attn_implementation", None)
    model.eval()
    try:
        yield
    finally:
        if before is not None and getattr(model.config, "_attn_implementation", None) != before:
            model.set_attn_implementation(before)
        model.train(training)
