"""The one Hugging Face generation loop: left padding, greedy at temperature 0, seeded sampling
otherwise, stopping at eos and at the chat template's end-of-turn markers.

The generate stage (distill) and steering (probes) both call `generate_batch`, so a steered length
at alpha 0 is counted under exactly the stopping rules of the traces it is compared with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

# End-of-turn markers of common chat templates: generation stops at them as at eos.
END_OF_TURN = (
    "<|im_end|>",
    "<|eot_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",
)


@dataclass(frozen=True)
class Generation:
    """One generated continuation: its text (special tokens removed), its token count (the stop
    token included), and whether it stopped on a stop token (False: cut at max_new_tokens)."""

    text: str
    n_tokens: int
    finished: bool


def stop_token_ids(tokenizer, model) -> list[int]:
    """eos of the tokenizer and of the model's generation config, plus any end-of-turn marker the
    vocabulary has (a chat model ends its turn with the template's marker, not always eos)."""
    ids = [tokenizer.eos_token_id]
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids += configured if isinstance(configured, list) else [configured]
    vocab = tokenizer.get_vocab()
    ids += [vocab[marker] for marker in END_OF_TURN if marker in vocab]
    return list(dict.fromkeys(i for i in ids if i is not None))


def to_generation(ids: Sequence[int], tokenizer, stop_ids: Sequence[int]) -> Generation:
    """New token ids -> Generation: cut after the first stop token, trailing pads dropped."""
    ids = list(ids)
    stops = [i for i, token in enumerate(ids) if token in stop_ids]
    finished = bool(stops)
    if finished:
        ids = ids[: stops[0] + 1]
    else:
        pad = tokenizer.pad_token_id
        while ids and ids[-1] == pad and pad not in stop_ids:
            ids.pop()
    text = tokenizer.decode([i for i in ids if i not in stop_ids], skip_special_tokens=True)
    return Generation(text=text, n_tokens=len(ids), finished=finished)


def generate_batch(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    add_special_tokens: bool,
    stop_ids: Sequence[int],
    max_new_tokens: int,
    temperature: float = 0.0,
    seed: int = 0,
) -> list[Generation]:
    """One continuation per rendered prompt, in one left-padded batch on the model's device."""
    device = next(model.parameters()).device
    batch = tokenizer(
        list(texts), return_tensors="pt", padding=True, add_special_tokens=add_special_tokens
    ).to(device)
    sampling = temperature > 0
    kwargs = {"do_sample": sampling}
    if sampling:
        kwargs["temperature"] = float(temperature)
    torch.manual_seed(seed)
    with torch.no_grad():
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=list(stop_ids),
            **kwargs,
        )
    new_tokens = output[:, batch["input_ids"].shape[1] :].cpu()
    return [to_generation(row.tolist(), tokenizer, stop_ids) for row in new_tokens]
