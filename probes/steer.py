"""Causal test of the difficulty direction: add it to the residual stream during generation.

A forward hook on decoder block L-1 (activation layer L in probes.csv) adds
alpha x unit direction x typical residual norm of that layer at every position, prompt and
generated tokens alike. Greedy generations per alpha give reasoning length (tokens between the
think tags) and accuracy, compared with alpha = 0 on the same items (paired bootstrap CIs,
sign-flip p). alpha = 0 adds an exact zero, so it reproduces plain `generate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import atomic_file
from mimicry.data.reasoning import answers_match, split_generation
from mimicry.probes.architectures import resolve_path, validate_architecture
from mimicry.probes.directions import difficulty_directions, directions_path, load_directions

STEER_COLUMNS = (
    "model",
    "position",
    "layer",
    "alpha",
    "n_items",
    "mean_length",
    "delta_length",
    "delta_length_ci_low",
    "delta_length_ci_high",
    "delta_length_p",
    "accuracy",
    "delta_acc",
    "delta_acc_ci_low",
    "delta_acc_ci_high",
    "delta_acc_p",
    "n_parse_failed",
)


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
    """Greedy continuations (new tokens only, cut at eos, pads removed)."""
    texts = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(
            list(prompts[start : start + batch_size]),
            return_tensors="pt",
            padding=True,
            add_special_tokens=add_special_tokens,
        )
        with torch.no_grad():
            out = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        texts += _cut_at_eos(out[:, batch["input_ids"].shape[1] :].tolist(), tokenizer)
    return texts


def _cut_at_eos(rows: list[list[int]], tokenizer) -> list[str]:
    texts = []
    for row in rows:
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id)]
        row = [t for t in row if t != tokenizer.pad_token_id]
        texts.append(tokenizer.decode(row, skip_special_tokens=False))
    return texts


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
    """Greedy steered continuations through nnsight, so the same code runs here, through
    nnsight's remote serialisation (`remote="local"`), or on NDIF (`remote=True`).

    At every generation step the vector is added to the block's output and the greedy token is
    read as the argmax of the last position's logits (what `generate(do_sample=False)` picks);
    continuations are cut at eos as in `generate_texts`.
    """
    import nnsight

    texts = []
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
            remote=remote,
        ) as tracer:
            block = resolve_path(lm, layers_path)[block_index]
            tokens = nnsight.save([])
            for _ in tracer.all():
                block.output[:] += vector
                tokens.append(lm.lm_head.output[:, -1].argmax(-1))
        texts += _cut_at_eos(torch.stack(list(tokens), 1).tolist(), tokenizer)
    return texts


def paired_change(
    diffs: np.ndarray, *, n_boot: int, seed: int
) -> tuple[float, float, float, float]:
    """(mean, CI low, CI high, two-sided sign-flip p) of paired differences."""
    diffs = np.asarray(diffs, dtype=float)
    mean = float(diffs.mean())
    rng = np.random.default_rng(seed)
    boots = diffs[rng.integers(0, len(diffs), size=(n_boot, len(diffs)))].mean(axis=1)
    low, high = np.percentile(boots, [2.5, 97.5])
    flips = rng.choice([-1.0, 1.0], size=(n_boot, len(diffs)))
    null = np.abs((flips * diffs).mean(axis=1))
    p = float((1 + np.sum(null >= abs(mean) - 1e-12)) / (1 + n_boot))
    return mean, float(low), float(high), p


def _direction(run: Path, name: str, position: str, layer: int, items_path: Path) -> tuple:
    path = directions_path(run, name, position)
    if path.is_file():
        found = load_directions(path)
    else:
        from mimicry.probes.probing.run_reader import discover_models, read_item_table
        from mimicry.probes.probing.targets import difficulty_bin

        items = read_item_table(items_path)
        models = discover_models(run, items)
        if name not in models:
            raise InputError(f"no activations or directions for model {name!r}", file=path)
        acts = models[name]
        aligned = items.set_index("item_id", drop=False).loc[acts.item_ids].reset_index(drop=True)
        found = difficulty_directions(acts.load(position), difficulty_bin(aligned).to_numpy(float))
    if layer >= len(found["direction"]):
        raise InputError(f"layer {layer} beyond the stored directions", file=path, field="layer")
    return found["direction"][layer], float(found["resid_norm"][layer])


REMOTE_MODES = {"no": False, "local": "local", "ndif": True}


def render_prompts(
    prompts: Sequence[str], tokenizer, template: str, think_open: str, open_think: bool
) -> tuple[list[str], bool]:
    """The generation prompts and whether the tokenizer should add its special tokens (a chat
    template already writes them)."""
    if template == "chat":
        from mimicry.probes.capture.inputs import chat_prompt_text

        return [chat_prompt_text(tokenizer, p, think_open)[0] for p in prompts], False
    if template != "raw":
        raise InputError(f"unknown template {template!r}; choose raw or chat", field="template")
    return [f"{p} {think_open}" if open_think else p for p in prompts], True


def _steered_generator(model_path, tokenizer, layer: int, remote: str, trust_remote_code: bool):
    """A function (prompts, vector, max_new_tokens) -> texts for the chosen execution mode."""
    from mimicry.probes.loading import load_causal_lm

    if remote not in REMOTE_MODES:
        raise InputError(
            f"unknown remote mode {remote!r}; choose from {', '.join(REMOTE_MODES)}", field="remote"
        )
    if remote == "no":
        model = load_causal_lm(model_path, trust_remote_code=trust_remote_code)

        def local(prompts, vector, max_new_tokens, add_special_tokens):
            with steering(model, layer, vector):
                return generate_texts(
                    model,
                    tokenizer,
                    prompts,
                    max_new_tokens=max_new_tokens,
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
        return generate_texts_nnsight(
            lm,
            tokenizer,
            prompts,
            layers_path=architecture.layers,
            block_index=layer - 1,
            vector=vector,
            max_new_tokens=max_new_tokens,
            remote=REMOTE_MODES[remote],
            add_special_tokens=add_special_tokens,
        )

    return through_nnsight


def steer_run(
    model_path: str | Path,
    run: str | Path,
    *,
    layer: int,
    alphas: Sequence[float],
    items_path: str | Path | None = None,
    out_path: str | Path | None = None,
    name: str | None = None,
    position: str = "last_prompt",
    max_new_tokens: int = 64,
    limit: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    trust_remote_code: bool = False,
    remote: str = "no",
    template: str = "raw",
    think_tags: tuple[str, str] = ("<think>", "</think>"),
    open_think: bool = False,
) -> Path:
    """Generate under each alpha and write steer.csv (+ steer_generations.csv beside it).

    `remote`: "no" (forward hook and HF generate here), "local" (nnsight, through its remote
    serialisation, run here: the dry run of NDIF) or "ndif" (nnsight on NDIF; the weights never
    load here; needs NDIF_API_KEY). `template="chat"` sends each prompt through the tokenizer's
    chat template (reasoning models); with `raw`, `open_think` ends the prompt with the think tag
    (base models). `think_tags` are the family's reasoning markers.
    """
    from mimicry.probes.loading import load_tokenizer
    from mimicry.probes.probing.run_reader import read_item_table

    run = Path(run)
    model_path = Path(model_path)
    name = name or model_path.name
    items_path = Path(items_path) if items_path else run / "items.csv"
    out_path = Path(out_path) if out_path else run / "probes" / "steer.csv"
    alphas = sorted(set(float(a) for a in alphas) | {0.0})
    items = read_item_table(items_path)
    if limit is not None:
        items = items.head(limit)
    direction, resid_norm = _direction(run, name, position, layer, items_path)
    tokenizer = load_tokenizer(model_path, trust_remote_code=trust_remote_code)
    generate_steered = _steered_generator(model_path, tokenizer, layer, remote, trust_remote_code)
    unit = torch.tensor(direction, dtype=torch.float32)
    prompts, raw = render_prompts(
        items["prompt"].tolist(), tokenizer, template, think_tags[0], open_think
    )
    per_alpha = {}
    generations = []
    exclusions = Exclusions()
    for alpha in alphas:
        texts = generate_steered(prompts, alpha * resid_norm * unit, max_new_tokens, raw)
        parsed = [split_generation(t, think_tags[0], think_tags[1]) for t in texts]
        lengths = np.array(
            [len(tokenizer(p.reasoning, add_special_tokens=False)["input_ids"]) for p in parsed]
        )
        correct = np.array(
            [
                p.ok and answers_match(p.answer, str(g))
                for p, g in zip(parsed, items["answer"], strict=True)
            ],
            dtype=float,
        )
        failed = sum(not p.ok for p in parsed)
        if failed:
            exclusions.add("steer", f"parse_failed_alpha_{alpha:g}", model=name, n=failed)
        per_alpha[alpha] = (lengths, correct, failed)
        generations += [
            {"item_id": i, "alpha": alpha, "text": t}
            for i, t in zip(items["item_id"], texts, strict=True)
        ]
    base_lengths, base_correct, _ = per_alpha[0.0]
    rows = []
    for alpha, (lengths, correct, failed) in per_alpha.items():
        dl = paired_change(lengths - base_lengths, n_boot=n_boot, seed=seed)
        da = paired_change(correct - base_correct, n_boot=n_boot, seed=seed)
        rows.append(
            dict(
                zip(
                    STEER_COLUMNS,
                    (
                        name,
                        position,
                        layer,
                        alpha,
                        len(items),
                        float(lengths.mean()),
                        *dl,
                        float(correct.mean()),
                        *da,
                        failed,
                    ),
                    strict=True,
                )
            )
        )
    with atomic_file(out_path) as tmp:
        pd.DataFrame(rows, columns=list(STEER_COLUMNS)).to_csv(tmp, index=False)
    with atomic_file(out_path.with_name(out_path.stem + "_generations.csv")) as tmp:
        pd.DataFrame(generations).to_csv(tmp, index=False)
    exclusions.write_csv(out_path.with_name(out_path.stem + "_exclusions.csv"))
    return out_path
