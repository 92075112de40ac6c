"""Propositional reasoning (ccobra propositional data): a fact plus connective premises.

Premises form a chain of atoms T0-T1-...-Tk joined by one connective each: "if x then y",
"x if and only if y", "either x or y but not both" (exclusive) or "x or y or both"
(inclusive). A fact says whether T0 is true or false; the question asks what follows about Tk.
Answers: "Tk", "not Tk" or "nothing" (the response options of the human study). `solve` uses
the full truth table (classical logic); the derivation propagates the fact along the chain, with
an extra rewrite step for modus tollens (reasoning backwards through a conditional).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from mimicry.data.families.base import (
    common_features,
    family_from_functions,
    int_range,
    link_chain,
    premise_signature,
    relabel,
    sample_chain,
)

ATOMS = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M")
CONNECTIVES = ("if", "iff", "xor", "or")
NOTHING = "nothing"
_TEMPLATE_WORDS = (
    "If then if and only either or but not both is true false . Question : what follows about ? "
    "so means could be nothing"
).split()


@dataclass(frozen=True)
class PropositionalItem:
    """`fact` = (atom, value); premises `(connective, x, y)` along the chain `atoms` T0..Tk."""

    fact: tuple[str, bool]
    premises: tuple[tuple[str, str, str], ...]
    atoms: tuple[str, ...]


def connective_text(connective: str, x: str, y: str) -> str:
    """The English form of one premise (lower case)."""
    return {
        "if": f"if {x} then {y}",
        "iff": f"{x} if and only if {y}",
        "xor": f"either {x} or {y} but not both",
        "or": f"{x} or {y} or both",
    }[connective]


def _value_text(atom: str, value: bool) -> str:
    return f"{atom} is {'true' if value else 'false'}"


def render_prompt(item: PropositionalItem) -> str:
    """The fact, then the premises, then "what follows about Tk?" (the dataset's order)."""
    premises = " ".join(
        connective_text(*p)[0].upper() + connective_text(*p)[1:] + "." for p in item.premises
    )
    return f"{_value_text(*item.fact)}. {premises} Question: what follows about {item.atoms[-1]}?"


def _holds(connective: str, x: bool, y: bool) -> bool:
    return {"if": (not x) or y, "iff": x == y, "xor": x != y, "or": x or y}[connective]


def solve(item: PropositionalItem) -> str:
    """Truth table: "Tk" or "not Tk" when every model agrees on Tk, else "nothing"."""
    atoms = sorted(set(item.atoms))
    target = item.atoms[-1]
    values = set()
    for bits in itertools.product((False, True), repeat=len(atoms)):
        model = dict(zip(atoms, bits, strict=True))
        if model[item.fact[0]] != item.fact[1]:
            continue
        if all(_holds(c, model[x], model[y]) for c, x, y in item.premises):
            values.add(model[target])
    if not values:
        raise ValueError(f"inconsistent premises: {item}")
    if len(values) == 2:
        return NOTHING
    return target if values.pop() else f"not {target}"


def _step(connective: str, x: str, y: str, known: str, value: bool) -> tuple[bool | None, bool]:
    """Value of the other atom given `known` = value, and whether it needs modus tollens."""
    if connective == "iff":
        return value, False
    if connective == "xor":
        return (not value), False
    if connective == "or":
        return (True if not value else None), False
    if known == x:  # if known then other
        return (True if value else None), False
    return (False if not value else None), not value  # other -> known: modus tollens


def solution_steps(item: PropositionalItem) -> list[str]:
    """Propagate the fact along the chain; stop with "nothing" once a value is open."""
    steps: list[str] = []
    known, value = item.fact
    for i, (connective, x, y) in enumerate(item.premises):
        other = item.atoms[i + 1]
        text = connective_text(connective, x, y)
        new_value, tollens = _step(connective, x, y, known, value)
        if tollens:
            steps.append(f"{text} means if {known} is false then {other} is false")
        if new_value is None:
            steps.append(
                f"{_value_text(known, value)} and {text} so {other} could be true or false"
            )
            steps.append(NOTHING)
            return steps
        steps.append(f"{_value_text(known, value)} and {text} so {_value_text(other, new_value)}")
        known, value = other, new_value
    return steps


def surface_features(item: PropositionalItem, prompt: str) -> dict[str, float]:
    """Common features plus connective counts and the fact's polarity."""
    steps = solution_steps(item)
    features = common_features(
        prompt, n_premises=len(item.premises) + 1, steps=steps, n_entities=len(item.atoms)
    )
    for connective in CONNECTIVES:
        features[f"feat_n_{connective}"] = float(sum(p[0] == connective for p in item.premises))
    features["feat_fact_false"] = float(not item.fact[1])
    return features


def sample(
    rng: random.Random,
    *,
    n_premises: int | tuple[int, int] = (1, 4),
    atoms: tuple[str, ...] = ATOMS,
) -> PropositionalItem:
    """A random chain of connectives over distinct atoms with a random fact about its start.

    `n_premises` counts connective premises (the fact comes on top).
    """
    n_range = int_range(n_premises, "n_premises")
    chain = tuple(sample_chain(rng, n_range, atoms, "atoms"))
    premises = link_chain(rng, chain, CONNECTIVES)
    return PropositionalItem((chain[0], rng.random() < 0.5), tuple(premises), chain)


def vocabulary() -> frozenset[str]:
    """Template words plus the atom letters."""
    return frozenset(_TEMPLATE_WORDS) | {"Either"} | frozenset(ATOMS)


def template_id(item: PropositionalItem) -> str:
    """Fact polarity and connectives with atoms relabelled along the chain."""
    names = relabel(item.atoms)
    body = premise_signature(item.premises, names)
    return f"prop:{'true' if item.fact[1] else 'false'}/{body}"


FAMILY = family_from_functions(
    "propositional",
    "a fact and connectives (if, iff, either-or, or): what follows about the last atom?",
    globals(),
)
