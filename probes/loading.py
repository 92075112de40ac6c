"""Load a causal LM and its tokenizer from a local folder or a hub name, safely.

Safetensors only, `trust_remote_code` only when the caller passes it, and the tokenizer class the
folder declares (AutoTokenizer would swap a saved word-level tokenizer for the architecture's own
class and silently drop its words). Every tokenizer adds exactly the special tokens its own saved
post-processor adds: forcing a BOS on a model that does not expect one (SmolLM2) shifts its
activations by up to 30%.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from data.errors import InputError

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


# Classes under which a plain `tokenizers` tokenizer is saved (transformers 5 writes TokenizersBackend).
GENERIC_TOKENIZER_CLASSES = ("PreTrainedTokenizerFast", "TokenizersBackend")


def resolve_dtype(name: str | torch.dtype) -> torch.dtype:
    """Map a dtype name from the CLI or config to a torch dtype."""
    if isinstance(name, torch.dtype):
        return name
    if name not in DTYPES:
        raise InputError(f"unknown dtype {name!r}; choose from {sorted(DTYPES)}", field="dtype")
    return DTYPES[name]


def adds_bos(tokenizer) -> bool:
    """Whether the tokenizer itself puts its bos token in front of plain text."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return False
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    return len(full) > len(plain) and full[0] == bos and full[1 : 1 + len(plain)] == plain


def load_tokenizer(
    path: str | Path, *, trust_remote_code: bool = False, revision: str | None = None
):
    """Load the tokenizer a model folder declares, adding bos only where it does itself; left
    padding, a pad token always set."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    local = Path(path)
    declared = None
    config_file = local / "tokenizer_config.json"
    if config_file.is_file():
        declared = json.loads(config_file.read_text()).get("tokenizer_class")
    if declared in GENERIC_TOKENIZER_CLASSES:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(local))
        if adds_bos(tokenizer) and not tokenizer.add_bos_token:
            # The saved post-processor adds bos (the project's word tokenizers) but the flag was not
            # saved; set it, so libraries that read the flag (TransformerLens reloads the tokenizer
            # through AutoTokenizer when it is False) keep this one. Same ids either way.
            tokenizer.add_bos_token = True
    else:
        tokenizer = AutoTokenizer.from_pretrained(
            str(path), trust_remote_code=trust_remote_code, revision=revision
        )
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(
    path: str | Path,
    *,
    dtype: str | torch.dtype = "float32",
    device: str = "cpu",
    trust_remote_code: bool = False,
    revision: str | None = None,
    attn_implementation: str | None = None,
):
    """Load a causal LM in eval mode from safetensors weights.

    `device="auto"` spreads the layers over every visible GPU (accelerate's `device_map="auto"`,
    for models larger than one card) and falls back to the CPU when there is no GPU.
    """
    from transformers import AutoModelForCausalLM

    if Path(path).exists() is False and "/" not in str(path):
        raise InputError(
            f"model {str(path)!r} is neither a local folder nor a hub name", field="model"
        )
    kwargs = {
        "dtype": resolve_dtype(dtype),
        "use_safetensors": True,
        "trust_remote_code": trust_remote_code,
        "revision": revision,
    }
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    spread = device == "auto" and torch.cuda.is_available()
    if spread:
        kwargs["device_map"] = "auto"
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    except OSError as error:
        raise InputError(
            f"cannot load model: {' '.join(str(error).split())[:300]}", file=str(path)
        ) from error
    if not spread:
        model = model.to("cpu" if device == "auto" else device)
    return model.eval()
