"""Capture equals the model's own outputs: hidden states, eager attention entropy, across backends
and batch sizes, on tiny random-init GPT-2, Qwen2 and Llama models."""

from __future__ import annotations

import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM

from mimicry.probes.architectures import validate_architecture
from mimicry.probes.capture.backends import make_backend
from mimicry.probes.capture.inputs import collate, encode_item
from mimicry.probes.capture.positions import POSITIONS, position_weights
from mimicry.probes.loading import load_tokenizer

ARCHS = ("gpt2", "qwen2", "llama")
PROMPTS = (
    "A is left of B . Is A left of C ?",
    "All artists are bakers .",
    "If the light is on then the door is open . Some bakers are chemists . What follows ?",
    "north",
    "0 1 2 3 4 5 6 7 8 9 10 11 12",
    "B is left of C .",
    "Let me think step by step .",
    "wait hmm so therefore because",
    "A is left of B . B is left of C . Is A left of C ? yes no",
)
TRACES = (
    "so A is left of C",
    "hmm",
    "because the light is on the door is open so yes",
    "wait north south east west",
    "1 2 3",
    "so therefore",
    "step",
    "answer : yes",
    "A is left of C because A is left of B and B is left of C",
)


@pytest.fixture(scope="module")
def sharp_model(tiny_model_factory, tmp_path_factory):
    """A tiny model whose query weights are scaled up so attention is peaked, not uniform."""
    cache = {}

    def make(arch):
        if arch not in cache:
            source = tiny_model_factory(arch)
            target = tmp_path_factory.mktemp(f"sharp-{arch}")
            shutil.copytree(source, target, dirs_exist_ok=True)
            model = AutoModelForCausalLM.from_pretrained(source)
            with torch.no_grad():
                for name, parameter in model.named_parameters():
                    if name.endswith(("q_proj.weight", "k_proj.weight", "c_attn.weight")):
                        parameter.mul_(12.0 if "c_attn" not in name else 20.0)
            model.save_pretrained(target)
            cache[arch] = target
        return cache[arch]

    return make


def _batch(path, n=9):
    tokenizer = load_tokenizer(path)
    items = [
        encode_item(tokenizer, f"i{k}", PROMPTS[k], TRACES[k] if k % 3 else None) for k in range(n)
    ]
    return tokenizer, items


def _backend(path, name="nnsight", method="chunked"):
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = load_tokenizer(path)
    kwargs = {"model_path": str(path)} if name == "transformer_lens" else {}
    return make_backend(
        name,
        model=model,
        tokenizer=tokenizer,
        architecture=validate_architecture(model),
        entropy_method=method,
        **kwargs,
    )


def _reference(path, batch):
    """HF eager forward with position ids from the mask; last block read by a forward hook."""
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager").eval()
    arch = validate_architecture(model)
    blocks = model.transformer.h if arch.name == "gpt2" else model.model.layers
    seen = {}
    handle = blocks[-1].register_forward_hook(lambda m, a, out: seen.setdefault("last", out))
    with torch.no_grad():
        out = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            output_hidden_states=True,
            output_attentions=True,
        )
    handle.remove()
    last = seen["last"][0] if isinstance(seen["last"], tuple) else seen["last"]
    hidden = torch.stack([*out.hidden_states[:-1], last], dim=1)  # [B, L+1, T, D], pre-norm
    return hidden, out.attentions


def _reference_positions(hidden, batch):
    rows = []
    for b in range(hidden.shape[0]):
        prompt = batch.regions[b, 0].nonzero().squeeze(-1)
        trace = batch.regions[b, 1].nonzero().squeeze(-1)
        per = {
            "last_prompt": hidden[b, :, int(batch.last_prompt[b])],
            "mean_prompt": hidden[b][:, prompt].mean(1),
            "mean_trace": hidden[b][:, trace].mean(1)
            if len(trace)
            else torch.zeros_like(hidden[b, :, 0]),
            "think_open": hidden[b, :, int(batch.think_open[b])]
            if batch.think_open[b] >= 0
            else torch.zeros_like(hidden[b, :, 0]),
        }
        rows.append(torch.stack([per[p] for p in POSITIONS], dim=1))
    return torch.stack(rows)  # [B, L+1, P, D]


def _reference_entropy(attentions, batch):
    """Per item, layer, head, region: mean entropy and mean entropy / log(keys), by loops."""
    n_b, n_t = batch.input_ids.shape
    means = torch.full((n_b, len(attentions), attentions[0].shape[1], 2), float("nan"))
    norms = means.clone()
    for b in range(n_b):
        pad = n_t - int(batch.attention_mask[b].sum())
        for layer, probs in enumerate(attentions):
            p = probs[b].double()
            entropy = -(torch.where(p > 0, p * p.log(), 0.0)).sum(-1)  # [H, T]
            for r in range(2):
                queries = batch.regions[b, r].nonzero().squeeze(-1).tolist()
                if not queries:
                    continue
                means[b, layer, :, r] = entropy[:, queries].mean(1).float()
                usable = [q for q in queries if q - pad + 1 >= 2]
                if usable:
                    logs = torch.log(
                        torch.tensor([q - pad + 1.0 for q in usable], dtype=torch.float64)
                    )
                    norms[b, layer, :, r] = (entropy[:, usable] / logs).mean(1).float()
    return means, norms


@pytest.mark.parametrize("arch", ARCHS)
def test_resid_and_entropy_match_hf_eager(arch, sharp_model):
    path = sharp_model(arch)
    tokenizer, items = _batch(path)
    batch = collate(items, tokenizer.pad_token_id)
    weights = position_weights(batch, POSITIONS, torch.float32)
    hidden, attentions = _reference(path, batch)
    expected = _reference_positions(hidden, batch)
    ref_mean, ref_norm = _reference_entropy(attentions, batch)
    assert float(ref_norm[:, :, :, 0].nanmean()) < 0.9, "attention should be peaked"
    for method in ("chunked", "fused", "eager"):
        result = _backend(path, method=method).run(batch, weights)
        assert result.resid.shape == expected.shape
        torch.testing.assert_close(result.resid, expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(result.entropy, ref_mean, atol=1e-4, rtol=0, equal_nan=True)
        torch.testing.assert_close(result.entropy_norm, ref_norm, atol=1e-4, rtol=0, equal_nan=True)


@pytest.mark.parametrize("arch", ARCHS)
def test_batch_of_one_equals_batch_of_eight_and_transformer_lens(arch, sharp_model):
    path = sharp_model(arch)
    tokenizer, items = _batch(path, n=8)
    backend = _backend(path)
    full = collate(items, tokenizer.pad_token_id)
    batched = backend.run(full, position_weights(full, POSITIONS, torch.float32))
    for k, item in enumerate(items):
        single = collate([item], tokenizer.pad_token_id)
        alone = backend.run(single, position_weights(single, POSITIONS, torch.float32))
        torch.testing.assert_close(alone.resid[0], batched.resid[k], atol=1e-5, rtol=0)
        torch.testing.assert_close(
            alone.entropy[0], batched.entropy[k], atol=1e-4, rtol=0, equal_nan=True
        )
    lens = _backend(path, name="transformer_lens").run(
        full, position_weights(full, POSITIONS, torch.float32)
    )
    torch.testing.assert_close(lens.resid, batched.resid, atol=1e-5, rtol=0)
    torch.testing.assert_close(lens.entropy, batched.entropy, atol=1e-4, rtol=0, equal_nan=True)
    torch.testing.assert_close(
        lens.entropy_norm, batched.entropy_norm, atol=1e-4, rtol=0, equal_nan=True
    )
