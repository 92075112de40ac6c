"""`mimicry models import-gguf`: bad input is one line and leaves nothing behind; the folder it
writes for SmolLM2 gives the GGUF model's own logits and tokenizes exactly as the GGUF tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mimicry.experiments.cli import run
from mimicry.probes.gguf_import import SOURCE_FILE, check_out_dir, load_gguf
from mimicry.probes.loading import load_causal_lm

PROMPTS = (
    "The capital of France is",
    "def add(a, b):\n    return",
    "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n",
)
TEXTS = (
    *PROMPTS,
    "Hello world",
    "  leading spaces and trailing  ",
    "Ünïcödé, emoji 🙂 and digits 1234567890",
    "<|im_start|>",
    "",
)


def _bad(tmp_path: Path, args: list[str], capsys) -> str:
    before = set(tmp_path.rglob("*"))
    assert run(["models", "import-gguf", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert set(tmp_path.rglob("*")) == before, "bad input left something behind"
    return err[0]


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert "no such GGUF file" in _bad(
        tmp_path, [str(tmp_path / "nope.gguf"), "--out", out], capsys
    )
    text = tmp_path / "model.gguf"
    text.write_text("not a model")
    assert "not a GGUF file" in _bad(tmp_path, [str(text), "--out", out], capsys)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert "cannot read this GGUF file" in _bad(tmp_path, [str(truncated), "--out", out], capsys)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    message = _bad(tmp_path, [str(truncated), "--out", str(taken)], capsys)
    assert "already exists" in message and (taken / "keep.txt").read_text() == "mine"


def test_an_empty_out_folder_is_accepted(tmp_path):
    (tmp_path / "empty").mkdir()
    assert check_out_dir(tmp_path / "empty") == tmp_path / "empty"


@pytest.mark.real_model
def test_folder_reproduces_the_gguf_model(smollm2, smollm2_gguf):
    from transformers import AutoTokenizer

    source = json.loads((smollm2 / SOURCE_FILE).read_text())
    assert source["gguf_file"] == smollm2_gguf.name and source["model_type"] == "llama"
    assert {"model.safetensors", "tokenizer.json", "chat_template.jinja"} <= {
        p.name for p in smollm2.iterdir()
    }
    reference, gguf_tokenizer = load_gguf(smollm2_gguf)
    folder_tokenizer = AutoTokenizer.from_pretrained(smollm2)
    for text in TEXTS:
        assert folder_tokenizer(text)["input_ids"] == gguf_tokenizer(text)["input_ids"], text
    assert gguf_tokenizer("Hello world")["input_ids"][0] != gguf_tokenizer.bos_token_id
    assert folder_tokenizer.chat_template == gguf_tokenizer.chat_template
    chat = [{"role": "user", "content": "Hi"}]
    assert folder_tokenizer.apply_chat_template(chat) == gguf_tokenizer.apply_chat_template(chat)

    model = load_causal_lm(smollm2)
    assert model.dtype == torch.float32
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    with torch.no_grad():
        for text in PROMPTS:
            ids = gguf_tokenizer(text, return_tensors="pt")["input_ids"]
            torch.testing.assert_close(
                model(input_ids=ids).logits, reference(input_ids=ids).logits, atol=1e-5, rtol=0
            )
