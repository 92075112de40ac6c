"""Steered generation: a forward hook (or nnsight intervention) adds a vector to one decoder
block's output while the generate stage's loop (`probes.generation`) produces greedy continuations,
so steered and plain traces share prompt rendering, batching and stop tokens."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

import torch
from jaxtyping import Float
from torch import Tensor

from mimicry.data.errors import InputError
from mimicry.probes.architectures import resolve_path, validate_architecture
from mimicry.probes.generation import Generation, generate_batch, stop_token_ids, to_generation


@contextmanager
def steering(model, layer: int, vector: Float[Tensor, " d_model"]):
    """Add `vector` to the output of decoder block `layer - 1` while the context is open."""
    blocks = resolve_path(model, validate_architecture(model).layers)
    if not 1 <= layer <= len(blocks):
        raise InputError(f"layer must be in 1..{len(blocks)}, got {layer}", field="layer")

    def hook(_module, _inputs, output):
        if isinstance(output, tuple):
            return (output[0] + vector.to(output[0].dtype), *output[1:])
        return output + vector.to(output.dtype)

    handle = blocks[layer - 1].register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def generate_texts(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int = 16,
    add_special_tokens: bool = True,
) -> list[str]:
    """Greedy continuations of already rendered prompts through the generate stage's loop (cut
    at eos and end-of-turn tokens, pads removed)."""
    return [
        g.text
        for g in local_generations(
            model,
            tokenizer,
            prompts,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            add_special_tokens=add_special_tokens,
        )
    ]


def local_generations(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int = 16,
    add_special_tokens: bool = True,
) -> list[Generation]:
    """`generate_texts` with the token counts and stop flags the generate stage records."""
    stop_ids = stop_token_ids(tokenizer, model)
    out: list[Generation] = []
    for start in range(0, len(prompts), batch_size):
        out += generate_batch(
            model,
            tokenizer,
            prompts[start : start + batch_size],
            add_special_tokens=add_special_tokens,
            stop_ids=stop_ids,
            max_new_tokens=max_new_tokens,
        )
    return out


def generate_texts_nnsight(
    lm,
    tokenizer,
    prompts: Sequence[str],
    *,
    layers_path: str,
    block_index: int,
    vector: Float[Tensor, " d_model"],
    max_new_tokens: int,
    batch_size: int = 16,
    remote: bool | str = False,
    add_special_tokens: bool = True,
) -> list[str]:
    """Texts of `nnsight_generations`."""
    return [
        g.text
        for g in nnsight_generations(
            lm,
            tokenizer,
            prompts,
            layers_path=layers_path,
            block_index=block_index,
            vector=vector,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            remote=remote,
            add_special_tokens=add_special_tokens,
        )
    ]


def nnsight_generations(
    lm,
    tokenizer,
    prompts: Sequence[str],
    *,
    layers_path: str,
    block_index: int,
    vector: Float[Tensor, " d_model"],
    max_new_tokens: int,
    batch_size: int = 16,
    remote: bool | str = False,
    add_special_tokens: bool = True,
) -> list[Generation]:
    """Greedy steered continuations through nnsight, so the same code runs here, through
    nnsight's remote serialisation (`remote="local"`), or on NDIF (`remote=True`).

    At every generation step the vector is added to the block's output and the greedy token is
    read as the argmax of the last position's logits (what `generate(do_sample=False)` picks);
    continuations are cut at the stop tokens of the generate stage, as in `generate_texts`.
    """
    import nnsight

    stop_ids = stop_token_ids(tokenizer, lm._module)
    out: list[Generation] = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(
            list(prompts[start : start + batch_size]),
            return_tensors="pt",
            padding=True,
            add_special_tokens=add_special_tokens,
        )
        with lm.generate(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=stop_ids,
            remote=remote,
        ) as tracer:
            block = resolve_path(lm, layers_path)[block_index]
            tokens = nnsight.save([])
            for _ in tracer.all():
                block.output[:] += vector
                tokens.append(lm.lm_head.output[:, -1].argmax(-1))
        rows = torch.stack(list(tokens), 1).tolist()
        out += [to_generation(row, tokenizer, stop_ids) for row in rows]
    return out


REMOTE_MODES = {"no": False, "local": "local", "ndif": True}


def steered_generator(
    model_path, tokenizer, layer: int, remote: str, trust_remote_code: bool, batch_size: int
):
    """A function (prompts, vector, max_new_tokens, add_special_tokens) -> Generations for the chosen
    execution mode, batched as the generate stage batches."""
    from mimicry.probes.loading import load_causal_lm

    if remote not in REMOTE_MODES:
        raise InputError(
            f"unknown remote mode {remote!r}; choose from {', '.join(REMOTE_MODES)}", field="remote"
        )
    if remote == "no":
        model = load_causal_lm(model_path, trust_remote_code=trust_remote_code)

        def local(prompts, vector, max_new_tokens, add_special_tokens):
            with steering(model, layer, vector):
                return local_generations(
                    model,
                    tokenizer,
                    prompts,
                    max_new_tokens=max_new_tokens,
                    batch_size=batch_size,
                    add_special_tokens=add_special_tokens,
                )

        return local
    import nnsight

    if remote == "ndif":
        lm = nnsight.LanguageModel(str(model_path), tokenizer=tokenizer)
    else:
        model = load_causal_lm(model_path, trust_remote_code=trust_remote_code)
        lm = nnsight.TransformersModel(model, tokenizer=tokenizer)
    architecture = validate_architecture(lm._module)
    n_blocks = len(resolve_path(lm._module, architecture.layers))
    if not 1 <= layer <= n_blocks:
        raise InputError(f"layer must be in 1..{n_blocks}, got {layer}", field="layer")

    def through_nnsight(prompts, vector, max_new_tokens, add_special_tokens):
        return nnsight_generations(
            lm,
            tokenizer,
            prompts,
            layers_path=architecture.layers,
            block_index=layer - 1,
            vector=vector,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            remote=REMOTE_MODES[remote],
            add_special_tokens=add_special_tokens,
        )

    return through_nnsight
