"""Cardinal-direction reasoning (ccobra Ragni2018_carddir): objects placed by compass relations.

Semantics (stated once, used everywhere): each premise "X is <direction> of Y" puts X one equal
step from Y in that direction (diagonals step one unit on both axes); the answer is the compass
direction (of eight) nearest to the vector from the reference object to the target. Integer
vectors never fall exactly between two compass directions, so the answer is unique unless the
two objects coincide; such items are indeterminate and never generated (the built-in task counts
the human items of that kind as excluded). The derivation walks from the reference to the target,
turning each premise around when it is stated from the other side, and keeps a running offset.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from mimicry.data.families.base import (
    common_features,
    family_from_functions,
    int_range,
    premise_signature,
    relabel,
    sample_chain,
)

DIRECTIONS: dict[str, tuple[int, int]] = {
    "north": (0, 1),
    "north-east": (1, 1),
    "east": (1, 0),
    "south-east": (1, -1),
    "south": (0, -1),
    "south-west": (-1, -1),
    "west": (-1, 0),
    "north-west": (-1, 1),
}
OPPOSITE = {
    name: next(o for o, v in DIRECTIONS.items() if v == (-dx, -dy))
    for name, (dx, dy) in DIRECTIONS.items()
}
# Places used in the human study (Ragni et al. 2018).
PLACES = (
    "bank",
    "bar",
    "bridge",
    "church",
    "gym",
    "hotel",
    "mall",
    "market",
    "museum",
    "school",
    "station",
    "store",
)
_TEMPLATE_WORDS = (
    "The the is of . Question : in which direction from ? so and at same place as nearest"
).split()
_MAX_OFFSET = 24


@dataclass(frozen=True)
class CardinalItem:
    """Premises `(direction, x, y)` read "the x is <direction> of the y"; question (target, reference)."""

    premises: tuple[tuple[str, str, str], ...]
    target: str
    reference: str


def render_prompt(item: CardinalItem) -> str:
    """Premises as sentences, then "in which direction from the <reference> is the <target>?"."""
    premises = " ".join(f"The {x} is {d} of the {y}." for d, x, y in item.premises)
    return (
        f"{premises} Question: in which direction from the {item.reference} is the {item.target}?"
    )


def _path(item: CardinalItem) -> list[tuple[str, str, str, bool]]:
    """Premises along the path reference -> target as (direction of next from current, current,
    next, stated_from_other_side)."""
    neighbours: dict[str, list[tuple[str, str, bool]]] = {}
    for direction, x, y in item.premises:
        # x is `direction` of y: from y, x lies in `direction`; from x, y lies opposite.
        neighbours.setdefault(y, []).append((x, direction, False))
        neighbours.setdefault(x, []).append((y, OPPOSITE[direction], True))
    previous: dict[str, tuple[str, str, bool] | None] = {item.reference: None}
    frontier = [item.reference]
    while frontier:
        current = frontier.pop(0)
        for nxt, direction, flipped in neighbours.get(current, []):
            if nxt not in previous:
                previous[nxt] = (current, direction, flipped)
                frontier.append(nxt)
    if item.target not in previous or item.target == item.reference:
        raise ValueError(f"target not connected to reference: {item}")
    path = []
    node = item.target
    while previous[node] is not None:
        current, direction, flipped = previous[node]
        path.append((direction, current, node, flipped))
        node = current
    return path[::-1]


def offset(item: CardinalItem) -> tuple[int, int]:
    """Vector from the reference to the target under the equal-step semantics."""
    dx = dy = 0
    for direction, _, _, _ in _path(item):
        dx += DIRECTIONS[direction][0]
        dy += DIRECTIONS[direction][1]
    return dx, dy


def nearest_direction(dx: int, dy: int) -> str:
    """Compass direction nearest to a non-zero vector."""
    if dx == 0 and dy == 0:
        raise ValueError("the two objects coincide: no direction follows")
    angle = math.atan2(dy, dx)
    return min(
        DIRECTIONS,
        key=lambda d: abs(
            math.remainder(angle - math.atan2(DIRECTIONS[d][1], DIRECTIONS[d][0]), math.tau)
        ),
    )


def is_determinate(item: CardinalItem) -> bool:
    """False when the target and the reference coincide (no direction follows)."""
    return offset(item) != (0, 0)


def solve(item: CardinalItem) -> str:
    """The nearest compass direction from the reference to the target."""
    return nearest_direction(*offset(item))


def _describe(dx: int, dy: int) -> str:
    parts = []
    if dy:
        parts.append(f"{abs(dy)} {'north' if dy > 0 else 'south'}")
    if dx:
        parts.append(f"{abs(dx)} {'east' if dx > 0 else 'west'}")
    return " and ".join(parts)


def solution_steps(item: CardinalItem) -> list[str]:
    """Walk reference -> target: restate each premise on the path (turned around when it is stated
    from the other side), then the running offset from the reference, then the nearest direction."""
    steps: list[str] = []
    dx = dy = 0
    for direction, current, nxt, flipped in _path(item):
        if flipped:
            steps.append(
                f"the {current} is {OPPOSITE[direction]} of the {nxt} so the {nxt} is {direction} of the {current}"
            )
        else:
            steps.append(f"the {nxt} is {direction} of the {current}")
        dx += DIRECTIONS[direction][0]
        dy += DIRECTIONS[direction][1]
        if dx == 0 and dy == 0:
            steps.append(f"the {nxt} is at the same place as the {item.reference}")
        else:
            steps.append(f"the {nxt} is {_describe(dx, dy)} of the {item.reference}")
    steps.append(f"nearest direction : {solve(item)}")
    return steps


def surface_features(item: CardinalItem, prompt: str) -> dict[str, float]:
    """Common features plus turned premises, diagonal relations and the size of the offset."""
    steps = solution_steps(item)
    names = {n for _, x, y in item.premises for n in (x, y)}
    dx, dy = offset(item)
    features = common_features(
        prompt, n_premises=len(item.premises), steps=steps, n_entities=len(names)
    )
    features["feat_n_turned"] = float(sum(flipped for *_, flipped in _path(item)))
    features["feat_n_diagonal"] = float(sum("-" in d for d, _, _ in item.premises))
    features["feat_answer_diagonal"] = float("-" in solve(item))
    features["feat_offset_steps"] = float(max(abs(dx), abs(dy)))
    return features


def sample(
    rng: random.Random,
    *,
    n_premises: int | tuple[int, int] = (2, 4),
    places: tuple[str, ...] = PLACES,
    turn_probability: float = 0.5,
) -> CardinalItem:
    """A random chain of compass relations between distinct places; indeterminate draws are redrawn."""
    n_range = int_range(n_premises, "n_premises")
    while True:
        chain = sample_chain(rng, n_range, places, "places")
        premises = []
        for current, nxt in zip(chain, chain[1:], strict=False):
            direction = rng.choice(list(DIRECTIONS))  # nxt lies `direction` of current
            if rng.random() < turn_probability:
                premises.append((OPPOSITE[direction], current, nxt))
            else:
                premises.append((direction, nxt, current))
        if rng.random() < 0.5:
            rng.shuffle(premises)
        item = CardinalItem(tuple(premises), target=chain[-1], reference=chain[0])
        if is_determinate(item):
            return item


def vocabulary() -> frozenset[str]:
    """Template words, direction words, places and the numbers a running offset can reach."""
    direction_words = {w for d in DIRECTIONS for w in d.replace("-", " - ").split()}
    numbers = {str(i) for i in range(_MAX_OFFSET + 1)}
    return frozenset(_TEMPLATE_WORDS) | frozenset(PLACES) | direction_words | numbers


def template_id(item: CardinalItem) -> str:
    """Premise directions and structure with places relabelled (reference first)."""
    names = relabel(
        [item.reference, *[n for _, x, y in item.premises for n in (x, y)], item.target]
    )
    body = premise_signature(item.premises, names)
    return f"card:{body}?{names[item.target]}-{names[item.reference]}"


FAMILY = family_from_functions(
    "cardinal",
    "compass directions between places: in which direction from X is Y?",
    globals(),
)
