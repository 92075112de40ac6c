"""What every task family shares: word splitting, the common surface features, and the
registry record that the generators and the built-in task loaders use."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

# The same split as the organism's word tokenizer: words and single punctuation marks.
_WORD = re.compile(r"\w+|[^\w\s]")
_NEGATION_WORDS = frozenset({"not", "no", "false"})


def words_of(text: str) -> list[str]:
    """Words and punctuation marks of `text`, as the word-level tokenizer splits them."""
    return _WORD.findall(text)


def common_features(
    prompt: str, *, n_premises: int, steps: Sequence[str], n_entities: int
) -> dict[str, float]:
    """Features every family reports, so surface baselines are comparable across tasks.

    `feat_steps` is the number of derivation steps (the work the item needs); the others are
    surface properties of the prompt a probe could exploit without any reasoning.
    """
    tokens = [w.lower() for w in words_of(prompt)]
    return {
        "feat_n_premises": float(n_premises),
        "feat_steps": float(len(steps)),
        "feat_prompt_words": float(sum(1 for w in tokens if w[0].isalnum())),
        "feat_prompt_chars": float(len(prompt)),
        "feat_digits": float(sum(ch.isdigit() for ch in prompt)),
        "feat_n_entities": float(n_entities),
        "feat_n_negations": float(sum(1 for w in tokens if w in _NEGATION_WORDS)),
    }


@dataclass(frozen=True)
class Family:
    """One task family: a structured item type and the functions that render, solve and sample it.

    Attributes:
        name: registry key (`relational`, `cardinal`, `syllogistic`, `propositional`).
        description: one line for listings.
        render_prompt: struct -> prompt text (the one template shared by human and generated items).
        solve: struct -> the short correct answer.
        solution_steps: struct -> short derivation steps (the organism teacher's scratchpad).
        surface_features: (struct, prompt) -> `feat_*` floats.
        sample: (rng: random.Random, **options) -> a random struct.
        vocabulary: () -> every word a prompt, answer or step of this family can contain.
        template_id: struct -> the abstract template (entities relabelled), for grouped CV.
    """

    name: str
    description: str
    render_prompt: Callable[[Any], str]
    solve: Callable[[Any], str]
    solution_steps: Callable[[Any], list[str]]
    surface_features: Callable[[Any, str], dict[str, float]]
    sample: Callable[..., Any]
    vocabulary: Callable[[], frozenset[str]]
    template_id: Callable[[Any], str]


_FUNCTION_FIELDS = tuple(f.name for f in fields(Family) if f.name not in ("name", "description"))


def family_from_functions(name: str, description: str, functions: Mapping[str, Any]) -> Family:
    """Register a family module: its functions carry the `Family` field names, so the module
    passes `globals()` and each family declares only its name and description."""
    return Family(
        name=name,
        description=description,
        **{field: functions[field] for field in _FUNCTION_FIELDS},
    )


def relabel(names: Sequence[str]) -> dict[str, str]:
    """Map entity names to placeholders by order of first appearance (x0, x1, ...)."""
    mapping: dict[str, str] = {}
    for name in names:
        mapping.setdefault(name, f"x{len(mapping)}")
    return mapping


def premise_signature(premises: Sequence[tuple[str, str, str]], names: Mapping[str, str]) -> str:
    """`kind-x-y` per premise with names relabelled, joined by `/` (the body of a template id)."""
    return "/".join(f"{kind}-{names[x]}-{names[y]}" for kind, x, y in premises)


def int_range(value: int | Sequence[int], name: str) -> tuple[int, int]:
    """Accept `n` or `(low, high)` (inclusive) for a generator option."""
    if isinstance(value, int):
        return value, value
    low, high = (int(v) for v in value)
    if low > high:
        raise ValueError(f"{name}: empty range {low}..{high}")
    return low, high


def sample_chain(
    rng: random.Random, n_range: tuple[int, int], pool: Sequence[str], noun: str
) -> list[str]:
    """`n + 1` distinct members of `pool` (n drawn from `n_range`): the chain n premises link.

    `noun` names the pool in the error raised when it is too small for the drawn n.
    """
    n = rng.randint(*n_range)
    if n < 1 or n + 1 > len(pool):
        raise ValueError(f"n_premises={n} needs {n + 1} {noun}; {len(pool)} available")
    return rng.sample(list(pool), n + 1)


def link_chain(
    rng: random.Random, chain: Sequence[str], kinds: Sequence[str]
) -> list[tuple[str, str, str]]:
    """One premise per neighbouring pair: a random kind, the pair in either order (coin flip)."""
    premises = []
    for left, right in zip(chain, chain[1:], strict=False):
        kind = rng.choice(kinds)
        premises.append((kind, left, right) if rng.random() < 0.5 else (kind, right, left))
    return premises
