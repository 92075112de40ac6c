"""Batched greedy generation from the organism and counting of its reasoning tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mimicry.distill.word_tokenizer import THINK_CLOSE, THINK_OPEN


@dataclass(frozen=True)
class Generation:
    """One completion: its text, its token ids and the count of tokens inside the think block."""

    text: str
    token_ids: tuple[int, ...]
    n_reasoning_tokens: int


def count_reasoning_tokens(token_ids: Sequence[int], open_id: int, close_id: int) -> int:
    """Tokens strictly between the first `<think>` and the first `</think>` after it.

    An unclosed think block counts every token after `<think>`: the model spent them reasoning.
    """
    ids = list(token_ids)
    if open_id not in ids:
        return 0
    start = ids.index(open_id) + 1
    end = ids.index(close_id, start) if close_id in ids[start:] else len(ids)
    return end - start


def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 96,
    batch_size: int = 64,
    temperature: float = 0.0,
    seed: int = 0,
) -> list[Generation]:
    """Completions of `prompts` (left padding, special tokens stripped from the text).

    `temperature` 0 is greedy; above 0 it samples, seeded, so a stochastic policy (one that picks
    its format at random per item) is measured as it behaves, not by its single most likely path.
    """
    import torch

    if temperature > 0:
        torch.manual_seed(seed)

    open_id = tokenizer.convert_tokens_to_ids(THINK_OPEN)
    close_id = tokenizer.convert_tokens_to_ids(THINK_CLOSE)
    specials = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    tokenizer.padding_side = "left"
    model.eval()
    results: list[Generation] = []
    for start in range(0, len(prompts), batch_size):
        batch = list(prompts[start : start + batch_size])
        encoded = tokenizer(batch, return_tensors="pt", padding=True)
        with torch.no_grad():
            output = model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                do_sample=temperature > 0,
                **(
                    {"temperature": temperature, "top_k": 0, "top_p": 1.0}
                    if temperature > 0
                    else {}
                ),
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        for row in new_tokens.tolist():
            kept = []
            for token in row:
                if token in specials:
                    break
                kept.append(token)
            results.append(
                Generation(
                    text=tokenizer.decode(kept, skip_special_tokens=True),
                    token_ids=tuple(kept),
                    n_reasoning_tokens=count_reasoning_tokens(kept, open_id, close_id),
                )
            )
    return results
