"""Causal test of the difficulty direction: add it to the residual stream during generation.

A forward hook on decoder block L-1 (activation layer L in probes.csv) adds
alpha x unit direction x typical residual norm of that layer at every position, prompt and
generated tokens alike. Greedy generations per alpha, prompted and parsed under the model's prompt
convention and produced by the generate stage's own loop (`probes.generation`, same stop tokens),
give reasoning length and accuracy, compared with alpha = 0 on the items parsed under both
(paired bootstrap CIs, sign-flip p). alpha = 0 adds an exact zero, so it reproduces `generate`
token for token. Unparsed generations are excluded and counted; an alpha with nothing to compare
gets a "nothing parsed" row with empty statistics, never a change of 0 with p = 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import atomic_file
from mimicry.data.reasoning import answers_match
from mimicry.data.stats import bootstrap_indices, percentile_ci, permutation_p
from mimicry.probes.config import resolve_config
from mimicry.probes.directions import difficulty_directions, directions_path, load_directions
from mimicry.probes.prompting import PromptConvention
from mimicry.probes.steer_config import SteerConfig
from mimicry.probes.steer_generation import (  # noqa: F401 (the steering API lives here too)
    REMOTE_MODES,
    generate_texts,
    generate_texts_nnsight,
    local_generations,
    nnsight_generations,
    steered_generator,
    steering,
)

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
    "n_paired",
    "status",
)
NOTHING_PARSED = "nothing parsed"


def paired_change(
    diffs: np.ndarray, *, n_boot: int, seed: int
) -> tuple[float, float, float, float]:
    """(mean, CI low, CI high, two-sided sign-flip p) of paired differences (the project's one
    statistics module: percentile bootstrap CI, permutation p by its documented convention)."""
    diffs = np.asarray(diffs, dtype=float)
    mean = float(diffs.mean())
    rng = np.random.default_rng(seed)
    boots = diffs[bootstrap_indices(rng, n_boot, len(diffs))].mean(axis=1)
    low, high = percentile_ci(boots)
    flips = rng.choice([-1.0, 1.0], size=(n_boot, len(diffs)))
    p = float(permutation_p(mean, (flips * diffs).mean(axis=1)))
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


def render_prompts(
    prompts: Sequence[str], tokenizer, template, think_open: str = "<think>", open_think=False
) -> tuple[list[str], bool]:
    """The generation prompts under a convention (or a legacy template name: `raw`, `chat`) and
    whether the tokenizer should add its special tokens (a chat template already writes them)."""
    if isinstance(template, str):
        convention = PromptConvention.from_value(template, (think_open, "</think>"))
        convention = replace(convention, open_think=open_think and convention.style == "plain")
    else:
        convention = template
    convention = convention.resolved(tokenizer)
    texts = [convention.render(tokenizer, p) for p in prompts]
    return texts, convention.adds_special_tokens(tokenizer)


def steer_layer(run: str | Path, model: str, position: str = "last_prompt") -> int:
    """The layer steered when none is given: `model`'s best human-RT probe layer (>= 1) at
    `position` in RUN/probes/probes.csv, else the middle of its captured layers."""
    import json

    run = Path(run)
    manifest = run / "activations" / model / "manifest.json"
    n_layers = json.loads(manifest.read_text())["n_layers"] if manifest.is_file() else 2
    probes = run / "probes" / "probes.csv"
    if probes.is_file():
        table = pd.read_csv(probes)
        rows = table[
            (table["model"] == model)
            & (table["target"] == "human_rt")
            & (table["feature_set"] == "activations")
            & (table["position"] == position)
            & (table["layer"] >= 1)
        ]
        if not rows.empty:
            return int(rows.sort_values("score").iloc[-1]["layer"])
    return max(1, n_layers // 2)


def steer_run(
    model_path: str | Path,
    run: str | Path,
    *,
    max_new_tokens: int,
    batch_size: int,
    config: SteerConfig | None = None,
    items_path: str | Path | None = None,
    out_path: str | Path | None = None,
    name: str | None = None,
    trust_remote_code: bool = False,
    remote: str = "no",
    convention: PromptConvention | None = None,
    template: str | None = None,
    think_tags: tuple[str, str] = ("<think>", "</think>"),
    open_think: bool = False,
    **overrides,
) -> Path:
    """Generate under each alpha and write steer.csv (+ steer_generations.csv and
    steer_exclusions.csv beside it).

    `config` holds the test's options (default `SteerConfig()`: layer, position, alphas, items,
    bootstrap); keyword overrides of its fields are validated on top. `max_new_tokens` and
    `batch_size` are the model's generation options (`GenerateConfig`, as its traces were
    generated), so alpha = 0 pads and decodes as `generate` did.
    `remote`: "no" (forward hook and the generate stage's loop here), "local" (nnsight, through
    its remote serialisation, run here: the dry run of NDIF) or "ndif" (nnsight on NDIF; the
    weights never load here; needs NDIF_API_KEY). `convention` is the model's prompt convention,
    as its traces were generated (default: the library default, as `generate` uses); the legacy
    `template` ('raw' or 'chat'), `think_tags` and `open_think` build one when it is not given.
    """
    from mimicry.probes.loading import load_tokenizer
    from mimicry.probes.probing.run_reader import read_item_table

    options = resolve_config(SteerConfig, config, overrides)
    for field, value in (("max_new_tokens", max_new_tokens), ("batch_size", batch_size)):
        if value < 1:
            raise InputError(f"must be at least 1, got {value}", field=field)
    run = Path(run)
    model_path = Path(model_path)
    name = name or model_path.name
    position, n_boot, seed = options.position, options.n_boot, options.seed
    layer = options.layer if options.layer is not None else steer_layer(run, name, position)
    items_path = Path(items_path) if items_path else run / "items.csv"
    out_path = Path(out_path) if out_path else run / "probes" / "steer.csv"
    alphas = sorted(set(float(a) for a in options.alphas) | {0.0})
    items = read_item_table(items_path)
    if options.n_items is not None:
        items = items.head(options.n_items)
    direction, resid_norm = _direction(run, name, position, layer, items_path)
    tokenizer = load_tokenizer(model_path, trust_remote_code=trust_remote_code)
    if convention is None:
        convention = PromptConvention(
            style={"raw": "plain", "chat": "chat", None: "auto"}.get(template, template),
            think_open=think_tags[0],
            think_close=think_tags[1],
            open_think=open_think,
        )
    convention = convention.resolved(tokenizer)
    generate_steered = steered_generator(
        model_path, tokenizer, layer, remote, trust_remote_code, batch_size
    )
    unit = torch.tensor(direction, dtype=torch.float32)
    prompts = [convention.render(tokenizer, p) for p in items["prompt"]]
    add_special = convention.adds_special_tokens(tokenizer)
    tasks = items["task"].astype(str).tolist() if "task" in items else [""] * len(items)
    per_alpha = {}
    generations = []
    exclusions = Exclusions()
    for alpha in alphas:
        steered = generate_steered(prompts, alpha * resid_norm * unit, max_new_tokens, add_special)
        texts = [g.text for g in steered]
        parsed = [convention.parse(t) for t in texts]
        ok = np.array([p.ok for p in parsed], dtype=bool)
        lengths = np.array(
            [len(tokenizer(p.reasoning, add_special_tokens=False)["input_ids"]) for p in parsed],
            dtype=float,
        )
        correct = np.array(
            [
                p.ok and answers_match(p.answer, str(g))
                for p, g in zip(parsed, items["answer"], strict=True)
            ],
            dtype=float,
        )
        for p, task, item_id in zip(parsed, tasks, items["item_id"], strict=True):
            if not p.ok:
                exclusions.add(
                    "steer",
                    f"unparsed_{p.reason}_alpha_{alpha:g}",
                    model=name,
                    task=task,
                    example=str(item_id),
                )
        per_alpha[alpha] = (lengths, correct, ok)
        generations += [
            {
                "item_id": i,
                "alpha": alpha,
                "parsed": bool(k),
                "n_tokens": g.n_tokens,
                "finished": g.finished,
                "text": g.text,
            }
            for i, g, k in zip(items["item_id"], steered, ok, strict=True)
        ]
    rows = [
        _steer_row(name, position, layer, alpha, len(items), per_alpha, n_boot, seed)
        for alpha in per_alpha
    ]
    with atomic_file(out_path) as tmp:
        pd.DataFrame(rows, columns=list(STEER_COLUMNS)).to_csv(tmp, index=False)
    with atomic_file(out_path.with_name(out_path.stem + "_generations.csv")) as tmp:
        pd.DataFrame(generations).to_csv(tmp, index=False)
    exclusions.write_csv(out_path.with_name(out_path.stem + "_exclusions.csv"))
    return out_path


def _steer_row(name, position, layer, alpha, n_items, per_alpha, n_boot, seed) -> dict:
    """One steer.csv row: changes against alpha = 0 over the items parsed under both; with no
    such item the statistics are empty (NaN) and `status` says nothing parsed."""
    lengths, correct, ok = per_alpha[alpha]
    base_lengths, base_correct, base_ok = per_alpha[0.0]
    both = ok & base_ok
    nan4 = (float("nan"),) * 4
    if both.any():
        dl = paired_change(lengths[both] - base_lengths[both], n_boot=n_boot, seed=seed)
        da = paired_change(correct[both] - base_correct[both], n_boot=n_boot, seed=seed)
        mean_length, accuracy, status = float(lengths[ok].mean()), float(correct[ok].mean()), "ok"
    else:
        dl = da = nan4
        mean_length = float(lengths[ok].mean()) if ok.any() else float("nan")
        accuracy = float(correct[ok].mean()) if ok.any() else float("nan")
        status = NOTHING_PARSED
    values = (name, position, layer, alpha, n_items, mean_length, *dl, accuracy, *da)
    values += (int((~ok).sum()), int(both.sum()), status)
    return dict(zip(STEER_COLUMNS, values, strict=True))


def nothing_parsed_line(table: pd.DataFrame) -> str | None:
    """One line naming the alphas with nothing parsed (None when every alpha compared items)."""
    empty = table[table["status"] == NOTHING_PARSED]
    if empty.empty:
        return None
    alphas = ", ".join(f"{a:g}" for a in empty["alpha"])
    return (
        f"steer: nothing parsed for model {empty['model'].iloc[0]} at alpha {alphas} "
        f"({int(empty['n_parse_failed'].max())} of {int(empty['n_items'].iloc[0])} generations "
        "unparsed); no length or accuracy change is reported there"
    )
