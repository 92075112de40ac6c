"""A real pretrained model end to end: SmolLM2-135M-Instruct tokenizes as its own tokenizer does
(no forced BOS) and the capture equals Hugging Face's own hidden states on it; the project's
word-level tokenizers keep their BOS and their words."""

from __future__ import annotations

import pytest
import torch
from transformers import PreTrainedTokenizerFast

from mimicry.probes.architectures import validate_architecture
from mimicry.probes.capture.backends import make_backend
from mimicry.probes.capture.inputs import collate, encode_item
from mimicry.probes.capture.positions import position_weights
from mimicry.probes.loading import load_causal_lm, load_tokenizer
from tests.tiny_models import BASE_TEXTS, make_tiny_like

TEXTS = (
    "Hello world",
    "The cat sat on the mat.",
    "  two leading spaces",
    "<|im_start|>user\nHi<|im_end|>",
    "12 + 30 = 42",
)
PROMPTS = ("The capital of France is", "If all bloops are razzies, are some razzies bloops?")


@pytest.mark.real_model
def test_load_tokenizer_tokenizes_as_smollm2_itself(smollm2, smollm2_gguf):
    from transformers import AutoTokenizer

    own = AutoTokenizer.from_pretrained(smollm2_gguf.parent, gguf_file=smollm2_gguf.name)
    ours = load_tokenizer(smollm2)
    for text in TEXTS:
        assert ours(text)["input_ids"] == own(text)["input_ids"], text
    assert ours("Hello world")["input_ids"][0] != ours.bos_token_id  # no BOS on plain text
    assert not ours.add_bos_token and ours.padding_side == "left"
    assert ours.pad_token == "<|im_end|>"


def test_word_tokenizers_keep_their_bos_and_words(tiny_model_factory, tmp_path):
    """Ids equal what the previous loader gave (it forced add_bos_token=True), with no unknowns."""
    folders = [tiny_model_factory(arch) for arch in ("gpt2", "qwen2", "llama")]
    folders.append(make_tiny_like(tmp_path / "like", "deepseek-r1-distill-qwen-1.5b"))
    for folder in folders:
        before = PreTrainedTokenizerFast.from_pretrained(str(folder), add_bos_token=True)
        now = load_tokenizer(folder)
        assert now.add_bos_token
        for text in BASE_TEXTS:
            ids = now(text)["input_ids"]
            assert ids == before(text)["input_ids"], (folder, text)
            assert ids[0] == now.bos_token_id and now.unk_token_id not in ids


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _hf_reference(model, input_ids):
    """One prompt alone: last-token and mean residual per layer (block outputs before the final
    norm, read by a hook), and per layer and head the mean entropy of eager attention rows."""
    seen = {}
    handle = model.model.layers[-1].register_forward_hook(
        lambda module, args, out: seen.setdefault("last", out)
    )
    with torch.no_grad():
        out = model(
            input_ids=torch.tensor([input_ids]), output_hidden_states=True, output_attentions=True
        )
    handle.remove()
    last = seen["last"][0] if isinstance(seen["last"], tuple) else seen["last"]
    hidden = torch.stack([*out.hidden_states[:-1], last])[:, 0]  # [L+1, T, D]
    probs = torch.stack(out.attentions)[:, 0].double()  # [L, H, T, T]
    entropy = -(torch.where(probs > 0, probs * probs.log(), 0.0)).sum(-1).mean(-1)
    return hidden[:, -1], hidden.mean(1), entropy.float()


@pytest.mark.real_model
def test_capture_equals_hf_on_smollm2(smollm2):
    """Batched, left-padded capture vs each prompt alone through HF with `output_hidden_states`;
    chunked attention entropy vs eager attention probabilities."""
    tokenizer = load_tokenizer(smollm2)
    model = load_causal_lm(smollm2, attn_implementation="eager")
    items = [encode_item(tokenizer, f"p{k}", text) for k, text in enumerate(PROMPTS)]
    references = [_hf_reference(model, item.input_ids) for item in items]

    batch = collate(items, tokenizer.pad_token_id)
    assert batch.attention_mask.min() == 0, "the prompts should need padding"
    weights = position_weights(batch, ("last_prompt", "mean_prompt"), torch.float32)
    backend = make_backend(
        "nnsight",
        model=model,
        tokenizer=tokenizer,
        architecture=validate_architecture(model),
        entropy_method="chunked",
    )
    result = backend.run(batch, weights)
    assert result.resid.shape == (2, 31, 2, 576)
    for row, (last, mean, entropy) in enumerate(references):
        for layer in range(31):
            assert _relative(result.resid[row, layer, 0], last[layer]) < 1e-5, (row, layer)
            assert _relative(result.resid[row, layer, 1], mean[layer]) < 1e-5, (row, layer)
        torch.testing.assert_close(result.entropy[row, :, :, 0], entropy, atol=1e-4, rtol=0)
