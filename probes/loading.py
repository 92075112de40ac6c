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

from mimicry.data.errors import InputError

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

    if looks_local(path) and not Path(str(path)).expanduser().is_dir():
        raise InputError("no such tokenizer folder", file=str(path), field="tokenizer")
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

    if looks_local(path):
        check_model_source(path)
    elif Path(path).exists() is False and "/" not in str(path):
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


_HUB_NAME = __import__("re").compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "vocab.txt",
    "tokenizer.model",
    "spiece.model",
)


def looks_local(source: str | Path) -> bool:
    """A path the user means as a local folder: never sent to the hub."""
    text = str(source)
    return (
        text.startswith(("/", "./", "../", "~"))
        or text in (".", "..")
        or Path(text).expanduser().exists()
    )


def check_model_source(
    source: str | Path, *, device: str | None = None, field: str = "model", kind: str = "model"
) -> None:
    """Refuse, before any work, a model (or tokenizer) source that cannot load: a local path
    that is missing, not a folder, not a model folder (no config.json) or has a corrupt
    config.json; a name that is neither local nor `owner/name`; `--device cuda` without a GPU."""
    text = str(source)
    if looks_local(source):
        path = Path(text).expanduser()
        if not path.exists():
            raise InputError(f"no such {kind} folder", file=text, field=field)
        if not path.is_dir():
            raise InputError(f"not a {kind} folder (a file)", file=text, field=field)
        if kind == "tokenizer":
            if not any((path / name).is_file() for name in _TOKENIZER_FILES):
                raise InputError(
                    "not a tokenizer folder (no tokenizer.json or tokenizer_config.json)",
                    file=text,
                    field=field,
                )
        else:
            config = path / "config.json"
            if not config.is_file():
                raise InputError("not a model folder (no config.json)", file=text, field=field)
            try:
                parsed = json.loads(config.read_bytes().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                raise InputError(
                    f"corrupt config.json: {' '.join(str(error).split())[:120]}",
                    file=config,
                    field=field,
                ) from None
            if not isinstance(parsed, dict):
                raise InputError("corrupt config.json: not a JSON object", file=config, field=field)
    elif not _HUB_NAME.match(text):
        raise InputError(
            f"{kind} {text!r} is neither a local folder nor a hub name (owner/name)", field=field
        )
    check_device(device)


def check_device(device: str | None, *, field: str = "device") -> None:
    """Refuse a CUDA device when no GPU is visible (or the index is out of range)."""
    if device is None or not str(device).startswith("cuda"):
        return
    if not torch.cuda.is_available():
        raise InputError(f"{device!r} requested but no CUDA GPU is available", field=field)
    _, _, index = str(device).partition(":")
    if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
        raise InputError(
            f"{device!r}: this machine has {torch.cuda.device_count()} GPU(s)", field=field
        )
