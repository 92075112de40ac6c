"""Tiny random-init GPT-2, Qwen2 and Llama models built from config, saved with a word tokenizer.

Shared by every test that needs a real transformers model; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, Qwen2Config

from mimicry.distill.word_tokenizer import build_word_tokenizer

ARCHITECTURES = ("gpt2", "qwen2", "llama")

BASE_TEXTS = (
    "A is left of B . B is left of C . Is A left of C ? yes no",
    "All artists are bakers . Some bakers are chemists . What follows ?",
    "If the light is on then the door is open . north south east west",
    "Let me think step by step . wait hmm so therefore because answer :",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
)


def tiny_config(
    arch: str,
    vocab_size: int,
    *,
    n_layers: int = 2,
    d_model: int = 64,
    n_heads: int = 4,
    n_ctx: int = 512,
):
    """A 2-layer, d_model 64, 4-head config of the named architecture."""
    if arch == "gpt2":
        return GPT2Config(
            vocab_size=vocab_size,
            n_positions=n_ctx,
            n_embd=d_model,
            n_layer=n_layers,
            n_head=n_heads,
            bos_token_id=2,
            eos_token_id=3,
            pad_token_id=0,
        )
    common = dict(
        vocab_size=vocab_size,
        hidden_size=d_model,
        intermediate_size=2 * d_model,
        num_hidden_layers=n_layers,
        num_attention_heads=n_heads,
        num_key_value_heads=max(1, n_heads // 2),
        max_position_embeddings=n_ctx,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    if arch == "qwen2":
        return Qwen2Config(**common)
    if arch == "llama":
        return LlamaConfig(**common)
    raise ValueError(f"unknown tiny architecture {arch!r}; choose from {ARCHITECTURES}")


def make_tiny_model(
    directory: Path, arch: str, texts=(), *, seed: int = 0, **config_kwargs
) -> Path:
    """Save a random-init model of `arch` plus a word tokenizer covering `texts` into `directory`."""
    tokenizer = build_word_tokenizer((*BASE_TEXTS, *texts))
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, len(tokenizer), **config_kwargs))
    model.eval()
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


def make_tiny_like(
    directory: Path, registry_name: str, texts=(), *, seed: int = 0, **config_kwargs
) -> Path:
    """A tiny random-init model of a registry entry's architecture, saved with that family's chat
    template, chat tokens and think tags, so a real-model config can run in reduced form on CPU."""
    from mimicry.experiments.registry import load_registry

    reg = load_registry()
    entry = reg.models[registry_name]
    convention = reg.convention_of(registry_name)
    whole = (*convention.chat_tokens, convention.think_open, convention.think_close)
    tokenizer = build_word_tokenizer(
        (*BASE_TEXTS, *texts),
        ("user", "assistant", "system"),
        whole_tokens=whole,
        chat_template=convention.template_text(),
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(
        tiny_config(entry.architecture, len(tokenizer), **config_kwargs)
    )
    model.eval()
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory
