"""Generation backends: Hugging Face transformers (default, CPU or GPU) and vLLM (optional, GPU).

A backend takes rendered prompts and returns the generated continuations; parsing, scoring and
writing traces stay in `distill.generate`, so both backends yield identical trace files.
"""

from __future__ import annotations

from mimicry.data.errors import InputError
from mimicry.probes.generation import Generation

__all__ = ["BACKENDS", "Generation", "load_backend"]

BACKENDS = ("hf", "vllm")


def load_backend(name: str, model_path, **options):
    """Instantiate a backend by name; vLLM is imported only when asked for."""
    if name == "hf":
        from mimicry.distill.backends.hf import HFBackend

        return HFBackend(model_path, **options)
    if name == "vllm":
        from mimicry.distill.backends.vllm import VLLMBackend

        return VLLMBackend(model_path, **options)
    raise InputError(f"unknown backend {name!r}; choose from {BACKENDS}", field="backend")
