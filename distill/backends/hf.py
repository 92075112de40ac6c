"""Batched generation with Hugging Face transformers through the shared loop of
`mimicry.probes.generation` (the one steering uses), on CPU or GPU."""

from __future__ import annotations

import torch

from mimicry.distill.backends.base import PromptedBackend
from mimicry.probes.generation import END_OF_TURN, Generation, generate_batch, stop_token_ids
from mimicry.probes.loading import load_causal_lm

__all__ = ["END_OF_TURN", "HFBackend", "pick_device", "pick_dtype", "stop_token_ids"]


def pick_device(device: str | None) -> str:
    """'auto'/None -> cuda when available, else cpu."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def pick_dtype(dtype: str | None, device: str) -> str:
    """'auto'/None -> bfloat16 on a GPU that supports it, float32 otherwise."""
    if dtype in (None, "auto"):
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return "bfloat16"
        return "float32"
    return dtype


class HFBackend(PromptedBackend):
    """Generate continuations of item prompts with `model.generate`."""

    def __init__(
        self,
        model_path,
        *,
        device: str | None = None,
        dtype: str | None = None,
        trust_remote_code: bool = False,
        convention=None,
    ) -> None:
        """`convention`: the model's PromptConvention (default: the library default)."""
        self.device = pick_device(device)
        super().__init__(model_path, trust_remote_code=trust_remote_code, convention=convention)
        self.model = load_causal_lm(
            model_path,
            dtype=pick_dtype(dtype, self.device),
            device=self.device,
            trust_remote_code=trust_remote_code,
        )
        self.stop_ids = stop_token_ids(self.tokenizer, self.model)

    def generate(
        self, prompts: list[str], *, temperature: float, max_new_tokens: int, seed: int
    ) -> list[Generation]:
        """Generate one continuation per prompt (same batch, left padded)."""
        return generate_batch(
            self.model,
            self.tokenizer,
            self.render_prompts(prompts),
            add_special_tokens=self.convention.adds_special_tokens(self.tokenizer),
            stop_ids=self.stop_ids,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=seed,
        )
