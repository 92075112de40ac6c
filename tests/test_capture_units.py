"""Pieces of capture on their own: entropy kernels vs an explicit softmax, streamed safetensors,
left-padded batches and regions, position parsing."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from mimicry.data.errors import InputError
from mimicry.probes.capture.entropy import (
    additive_bias,
    causal_allowed,
    entropy_chunked,
    entropy_from_probabilities,
    entropy_fused,
    region_means,
)
from mimicry.probes.capture.inputs import THINK_OPEN, collate, encode_item
from mimicry.probes.capture.positions import parse_positions, position_weights, reduce_positions
from mimicry.probes.capture.writer import write_concatenated
from mimicry.probes.loading import load_tokenizer
from tests.tiny_models import make_tiny_model


def _explicit(query, key, allowed, scaling):
    key = key.repeat_interleave(query.shape[1] // key.shape[1], dim=1)
    scores = (query @ key.transpose(-1, -2)) * scaling
    scores = scores.masked_fill(~allowed, float("-inf"))
    return entropy_from_probabilities(torch.softmax(scores.double(), -1).nan_to_num(0.0)).float()


@pytest.mark.parametrize("chunk", [1, 3, None])
def test_chunked_and_fused_entropy_match_explicit_softmax_with_gqa_and_padding(chunk):
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(3, 4, 11, 8, generator=generator) * 3
    key = torch.randn(3, 2, 11, 8, generator=generator) * 3
    mask = torch.ones(3, 11, dtype=torch.long)
    mask[1, :4] = 0
    mask[2, :10] = 0
    allowed = causal_allowed(mask)
    real = mask.bool()[:, None, :]
    expected = _explicit(query, key, allowed, 0.3)
    got = entropy_chunked(query, key, allowed, 0.3, chunk=chunk)
    torch.testing.assert_close(got.where(real, 0), expected.where(real, 0), atol=1e-4, rtol=0)
    fused = entropy_fused(query, key, additive_bias(allowed, torch.float32), 0.3)
    torch.testing.assert_close(fused.where(real, 0), expected.where(real, 0), atol=1e-4, rtol=0)
    # No mask at all means plain causal attention.
    torch.testing.assert_close(
        entropy_chunked(query, key, None, 0.3, chunk=chunk),
        _explicit(query, key, causal_allowed(torch.ones(3, 11, dtype=torch.long)), 0.3),
        atol=1e-4,
        rtol=0,
    )


def test_sliding_window_limits_keys():
    allowed = causal_allowed(torch.ones(1, 6, dtype=torch.long), sliding_window=2)
    assert allowed[0, 0].sum(-1).tolist() == [1, 2, 2, 2, 2, 2]


def test_region_means_ignore_pads_and_single_key_queries():
    entropy = torch.tensor([[[float("inf"), 0.0, 1.0, 2.0]]])  # pad query holds inf
    n_keys = torch.tensor([[0, 1, 2, 3]])
    regions = torch.tensor([[[False, True, True, False], [False, False, False, True]]])
    mean, norm = region_means(entropy, n_keys, regions)
    torch.testing.assert_close(mean, torch.tensor([[[0.5, 2.0]]]))
    expected = torch.tensor(
        [[[1.0 / torch.log(torch.tensor(2.0)), 2.0 / torch.log(torch.tensor(3.0))]]]
    )
    torch.testing.assert_close(norm, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_streamed_safetensors_equals_concatenation(tmp_path, dtype):
    pieces = [torch.randn(n, 3, 5).to(dtype) for n in (2, 0, 4)]
    write_concatenated(
        tmp_path / "x.safetensors", "resid", iter(pieces), (6, 3, 5), dtype, {"a": "b"}
    )
    loaded = load_file(tmp_path / "x.safetensors")["resid"]
    assert loaded.dtype == dtype
    assert torch.equal(loaded, torch.cat(pieces))
    with pytest.raises(ValueError):
        write_concatenated(tmp_path / "y.safetensors", "resid", iter(pieces), (7, 3, 5), dtype)
    assert not (tmp_path / "y.safetensors").exists()


def test_left_padded_batch_regions_positions_and_think_token(tiny_model_factory):
    tokenizer = load_tokenizer(tiny_model_factory("gpt2"))
    short = encode_item(tokenizer, "a", "north", "wait hmm")
    long = encode_item(tokenizer, "b", "A is left of B .", None)
    assert short.input_ids[short.think_open] == tokenizer.convert_tokens_to_ids(THINK_OPEN)
    assert short.input_ids[0] == tokenizer.bos_token_id and short.prompt_len == 2
    batch = collate([short, long], tokenizer.pad_token_id)
    pad = len(long.input_ids) - len(short.input_ids)
    assert batch.regions[0, 1].tolist() == [False] * (pad + 2) + [True] * 4
    assert batch.think_open.tolist() == [pad + 2, -1]
    width = len(long.input_ids)
    short2 = encode_item(tokenizer, "c", "north", None)
    batch = collate([short2, long], tokenizer.pad_token_id)
    pad = width - len(short2.input_ids)
    assert batch.input_ids[0, :pad].tolist() == [tokenizer.pad_token_id] * pad
    assert batch.position_ids[0, pad:].tolist() == list(range(len(short2.input_ids)))
    assert batch.last_prompt.tolist() == [width - 1, width - 1]
    assert batch.think_open.tolist() == [-1, -1]
    hidden = torch.randn(2, width, 4)
    weights = position_weights(batch, ("last_prompt", "mean_prompt"), torch.float32)
    reduced = reduce_positions(hidden, weights)
    torch.testing.assert_close(reduced[0, 0], hidden[0, -1])
    torch.testing.assert_close(reduced[0, 1], hidden[0, pad:].mean(0))


def test_positions_are_validated():
    assert parse_positions("last_prompt, mean_trace,last_prompt") == ("last_prompt", "mean_trace")
    with pytest.raises(InputError, match="unknown position"):
        parse_positions("final")


def test_chat_template_that_opens_think_keeps_the_tag_in_the_prompt(tmp_path):
    from tests.tiny_models import make_tiny_like

    tokenizer = load_tokenizer(make_tiny_like(tmp_path / "r1", "deepseek-r1-distill-qwen-1.5b"))
    item = encode_item(tokenizer, "a", "north", "wait hmm", template="chat")
    tokens = tokenizer.convert_ids_to_tokens(list(item.input_ids))
    assert tokens[item.think_open] == THINK_OPEN and item.think_open < item.prompt_len
    assert tokens[item.prompt_len :] == ["wait", "hmm", "</think>"]
    with pytest.raises(InputError, match="no chat template"):
        encode_item(
            load_tokenizer(make_tiny_model(tmp_path / "plain", "gpt2")), "b", "x", template="chat"
        )
