"""Spatial relational reasoning on a line (left/right), as in the ccobra 3ps/4ps studies.

Premises relate neighbours of one left-to-right order (a determinate chain); the question asks
whether one entity is to the left/right of another; the answer is `yes` or `no`. The derivation
builds the order premise by premise: a `right` premise is first turned into `left`, and a
premise that shares no entity with the model built so far must be held and joined later (the
premise-order effect of the 4ps study).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mimicry.data.families.base import (
    common_features,
    family_from_functions,
    int_range,
    premise_signature,
    relabel,
    sample_chain,
    words_of,
)

ENTITIES = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M")
RELATIONS = ("left", "right")
_TEMPLATE_WORDS = (
    "is to the left right of Question : ? . yes no means model hold join so first asked"
).split()


@dataclass(frozen=True)
class RelationalItem:
    """Premises `(relation, x, y)` read "x is to the <relation> of y"; same for the question."""

    premises: tuple[tuple[str, str, str], ...]
    question: tuple[str, str, str]


def _sentence(relation: str, x: str, y: str) -> str:
    return f"{x} is to the {relation} of {y}"


def render_prompt(item: RelationalItem) -> str:
    """Premises as sentences, then a yes/no question."""
    premises = " ".join(f"{_sentence(*p)}." for p in item.premises)
    relation, x, y = item.question
    return f"{premises} Question: is {x} to the {relation} of {y}?"


def order(item: RelationalItem) -> list[str]:
    """The left-to-right order the premises determine (premises relate neighbours)."""
    right_of: dict[str, str] = {}
    for relation, x, y in item.premises:
        left, right = (x, y) if relation == "left" else (y, x)
        if left in right_of or left == right:
            raise ValueError(f"premises do not form a chain: {item.premises}")
        right_of[left] = right
    starts = set(right_of) - set(right_of.values())
    if len(starts) != 1:
        raise ValueError(f"premises do not form one chain: {item.premises}")
    sequence = [starts.pop()]
    while sequence[-1] in right_of:
        sequence.append(right_of[sequence[-1]])
    if len(sequence) != len(item.premises) + 1:
        raise ValueError(f"premises do not form one chain: {item.premises}")
    return sequence


def solve(item: RelationalItem) -> str:
    """`yes` when the question's relation holds in the order, else `no`."""
    position = {name: i for i, name in enumerate(order(item))}
    relation, x, y = item.question
    is_left = position[x] < position[y]
    return "yes" if is_left == (relation == "left") else "no"


def solution_steps(item: RelationalItem) -> list[str]:
    """Build the order premise by premise (convert, extend, hold, join), then read off the answer.

    The read-out names which of the two question entities comes first in the order, the relation
    that follows, and the relation asked about, so the yes/no is a comparison of adjacent words.
    """
    steps: list[str] = []
    chunks: list[list[str]] = []
    for relation, x, y in item.premises:
        left, right = (x, y) if relation == "left" else (y, x)
        if relation == "right":
            steps.append(f"{x} right of {y} means {y} left of {x}")
        with_left = next((c for c in chunks if c[-1] == left), None)
        with_right = next((c for c in chunks if c[0] == right), None)
        if with_left is not None and with_right is not None:
            with_left.extend(with_right)
            chunks.remove(with_right)
            steps.append(f"join : {' '.join(with_left)}")
        elif with_left is not None:
            with_left.append(right)
            steps.append(f"model : {' '.join(with_left)}")
        elif with_right is not None:
            with_right.insert(0, left)
            steps.append(f"model : {' '.join(with_right)}")
        else:
            chunks.append([left, right])
            steps.append(f"{'hold' if len(chunks) > 1 else 'model'} : {left} {right}")
    relation, x, y = item.question
    position = {name: i for i, name in enumerate(order(item))}
    first = x if position[x] < position[y] else y
    actual = "left" if first == x else "right"
    steps.append(f"{first} first so {x} is {actual} of {y} asked {relation} so {solve(item)}")
    return steps


def surface_features(item: RelationalItem, prompt: str) -> dict[str, float]:
    """Common features plus conversions needed, held premises and the question's distance."""
    steps = solution_steps(item)
    sequence = order(item)
    _, x, y = item.question
    features = common_features(
        prompt, n_premises=len(item.premises), steps=steps, n_entities=len(sequence)
    )
    features["feat_n_right"] = float(sum(r == "right" for r, _, _ in item.premises))
    features["feat_n_holds"] = float(sum(s.startswith("hold") for s in steps))
    features["feat_question_distance"] = float(abs(sequence.index(x) - sequence.index(y)))
    features["feat_question_right"] = float(item.question[0] == "right")
    return features


def sample(
    rng: random.Random,
    *,
    n_premises: int | tuple[int, int] = (2, 5),
    entities: tuple[str, ...] = ENTITIES,
    shuffle_premises: bool = True,
) -> RelationalItem:
    """A random determinate chain: random entities, relations, premise order and question."""
    n_range = int_range(n_premises, "n_premises")
    sequence = sample_chain(rng, n_range, entities, "entities")
    premises = []
    for left, right in zip(sequence, sequence[1:], strict=False):
        premises.append(("left", left, right) if rng.random() < 0.5 else ("right", right, left))
    if shuffle_premises:
        rng.shuffle(premises)
    x, y = rng.sample(sequence, 2)
    return RelationalItem(tuple(premises), (rng.choice(RELATIONS), x, y))


def vocabulary() -> frozenset[str]:
    """Template words plus the entity letters."""
    return frozenset(_TEMPLATE_WORDS) | frozenset(ENTITIES)


def template_id(item: RelationalItem) -> str:
    """Premise structure with entities relabelled by first appearance (question excluded)."""
    names = relabel([n for _, x, y in item.premises for n in (x, y)])
    return "rel:" + premise_signature(item.premises, names)


FAMILY = family_from_functions(
    "relational",
    "left/right order on a line: is X to the left/right of Y? (yes/no)",
    globals(),
)

__all__ = ["FAMILY", "RelationalItem", "words_of"]
