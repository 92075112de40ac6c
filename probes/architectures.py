"""One table of module paths per architecture, validated when a model loads.

Capture reads the residual stream at the input of block 0 (the embeddings, position embeddings
included) and at the output of every block (before the final norm). Where those modules live
differs by architecture; this table says where, so no code branches on model classes.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from mimicry.data.errors import InputError


@dataclass(frozen=True)
class Architecture:
    """Where the parts capture needs sit inside a Hugging Face causal LM.

    Attributes:
        name: short name used in manifests and messages.
        model_types: `config.model_type` values this entry covers.
        layers: dotted path from the model to the list of decoder blocks.
        final_norm: dotted path to the norm applied after the last block (the residual is read
            before it).
        attention: attribute of a block holding its self-attention module.
        rotary: whether queries and keys are rotated (RoPE) before attention.
    """

    name: str
    model_types: tuple[str, ...]
    layers: str
    final_norm: str
    attention: str
    rotary: bool


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture("gpt2", ("gpt2",), "transformer.h", "transformer.ln_f", "attn", rotary=False),
    Architecture("llama", ("llama",), "model.layers", "model.norm", "self_attn", rotary=True),
    Architecture("qwen2", ("qwen2",), "model.layers", "model.norm", "self_attn", rotary=True),
    Architecture("qwen3", ("qwen3",), "model.layers", "model.norm", "self_attn", rotary=True),
    Architecture("mistral", ("mistral",), "model.layers", "model.norm", "self_attn", rotary=True),
)

_BY_MODEL_TYPE = {t: arch for arch in ARCHITECTURES for t in arch.model_types}


def supported_model_types() -> list[str]:
    """Model types capture knows, for error messages and docs."""
    return sorted(_BY_MODEL_TYPE)


def architecture_for_config(config: Any, *, source: str | None = None) -> Architecture:
    """Look up the table entry for a transformers config; one-line InputError when unknown."""
    model_type = getattr(config, "model_type", None)
    if model_type not in _BY_MODEL_TYPE:
        raise InputError(
            f"unknown architecture {model_type!r}; capture supports {', '.join(supported_model_types())}",
            file=source,
            field="model_type",
        )
    return _BY_MODEL_TYPE[model_type]


def resolve_path(root: Any, dotted: str) -> Any:
    """Follow a dotted attribute path (works on torch modules and nnsight envoys alike)."""
    return operator.attrgetter(dotted)(root)


def validate_architecture(model: Any, *, source: str | None = None) -> Architecture:
    """Find the model's table entry and check every path in it resolves with the expected sizes."""
    arch = architecture_for_config(model.config, source=source)
    try:
        layers = resolve_path(model, arch.layers)
        resolve_path(model, arch.final_norm)
        attentions = [getattr(block, arch.attention) for block in layers]
    except AttributeError as error:
        raise InputError(
            f"model of type {arch.name!r} lacks a module capture expects ({error})",
            file=source,
            field="model_type",
        ) from error
    n_layers = model.config.num_hidden_layers
    if len(layers) != n_layers or len(attentions) != n_layers:
        raise InputError(
            f"model declares {n_layers} layers but {arch.layers} holds {len(layers)}",
            file=source,
            field="num_hidden_layers",
        )
    return arch
