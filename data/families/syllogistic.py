"""Syllogisms and chains of them (sorites), as in ccobra Ragni2016.

Semantics: standard first-order monadic logic with existential import (every term names a
non-empty set), the convention of Khemlani & Johnson-Laird (2012) used to score the Ragni2016
data. A conclusion follows when the premises, the import assumptions and the conclusion's
negation have no model; satisfiability is decided exactly by enumerating the types of
individuals (assignments of the terms), so the solver is complete for any number of premises.

Premises form a chain T0-T1, T1-T2, ... (each premise may state its terms in either order); the
question asks what follows about T0 and the last term. The answer is the canonical strongest
valid conclusion ("all A are C" before "no", "some", "some ... are not"; T0 as subject first)
or "nothing follows". The derivation turns a premise around when it is stated against the
chain, then chains the premises, writing the strongest conclusion about T0 at each step; it
stops as soon as nothing follows (along a chain nothing can follow later once nothing follows
about T0 and an intermediate term; the tests check this on random chains).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from functools import lru_cache

from mimicry.data.families.base import (
    common_features,
    family_from_functions,
    int_range,
    link_chain,
    premise_signature,
    relabel,
    sample_chain,
)

QUANTIFIERS = ("all", "some", "no", "some_not")
MOOD_LETTER = {"all": "A", "some": "I", "no": "E", "some_not": "O"}
NOTHING = "nothing follows"
# Content words of the human study (Ragni et al. 2016): the generator draws from the same pool.
TERMS = tuple(
    """actors actuaries agents analysts architects artists assistants athletes auditors bakers
    bankers barbers boxers brewers brokers butchers buyers campers carpenters cashiers chefs
    chemists cleaners clerks climbers cooks counselors cyclists dancers dentists designers divers
    doctors drillers drivers editors engineers farmers fencers florists gamblers golfers hikers
    hunters investors joggers judges jugglers lawyers lifeguards linguists managers mayors miners
    models novelists nurses opticians packers painters pilots planners plumbers poets porters
    potters riders runners sailors scholars scientists sculptors secretaries singers skaters
    soldiers students surfers swimmers tailors teachers tellers therapists trainers travelers
    tutors typists waiters workers writers""".split()
)
_TEMPLATE_WORDS = "all some no are not . Question : what follows about and ? so nothing".split()

Statement = tuple[str, str, str]


@dataclass(frozen=True)
class SyllogismItem:
    """Premises `(quantifier, subject, predicate)` linking the chain `terms` T0..Tk in order."""

    premises: tuple[Statement, ...]
    terms: tuple[str, ...]


def statement_text(statement: Statement) -> str:
    """ "all x are y", "some x are y", "no x are y", "some x are not y"."""
    quantifier, x, y = statement
    if quantifier == "some_not":
        return f"some {x} are not {y}"
    return f"{quantifier} {x} are {y}"


def render_prompt(item: SyllogismItem) -> str:
    """Premises as capitalised sentences, then "what follows about T0 and Tk?"."""
    premises = " ".join(statement_text(p).capitalize() + "." for p in item.premises)
    return f"{premises} Question: what follows about {item.terms[0]} and {item.terms[-1]}?"


def _negation(statement: Statement) -> Statement:
    quantifier, x, y = statement
    return ({"all": "some_not", "some_not": "all", "some": "no", "no": "some"}[quantifier], x, y)


@lru_cache(maxsize=65536)
def satisfiable(statements: frozenset[Statement]) -> bool:
    """True when some model makes all statements true and every term non-empty."""
    terms = sorted({t for _, x, y in statements for t in (x, y)})
    index = {t: i for i, t in enumerate(terms)}
    universals = [s for s in statements if s[0] in ("all", "no")]
    # Types of individual allowed by the universal statements.
    allowed = [
        bits
        for bits in itertools.product((False, True), repeat=len(terms))
        if all(
            not (bits[index[x]] and (bits[index[y]] if q == "no" else not bits[index[y]]))
            for q, x, y in universals
        )
    ]
    witnesses = [
        ((x, True), (y, q == "some")) for q, x, y in statements if q in ("some", "some_not")
    ]
    witnesses += [((t, True), (t, True)) for t in terms]  # existential import
    return all(
        any(bits[index[a]] == va and bits[index[b]] == vb for bits in allowed)
        for (a, va), (b, vb) in witnesses
    )


def follows(premises: tuple[Statement, ...] | frozenset[Statement], conclusion: Statement) -> bool:
    """True when `conclusion` holds in every model of the premises (with existential import)."""
    return not satisfiable(frozenset(premises) | {_negation(conclusion)})


def candidate_conclusions(a: str, c: str) -> list[Statement]:
    """The eight conclusions about end terms a and c, in canonical preference order."""
    return [(q, x, y) for q in ("all", "no", "some", "some_not") for x, y in ((a, c), (c, a))]


def valid_conclusions(premises: tuple[Statement, ...], a: str, c: str) -> list[Statement]:
    """Every one of the eight a/c conclusions that follows, in canonical order.

    Validity does not depend on the terms' names, so the premises are renamed `t0, t1, ...` by
    first appearance (a and c first) and the answer is cached per renamed form: generating
    thousands of items then solves each premise pattern once.
    """
    names: dict[str, str] = {}
    for term in (a, c, *(t for _, x, y in premises for t in (x, y))):
        names.setdefault(term, f"t{len(names)}")
    original = {renamed: term for term, renamed in names.items()}
    renamed = tuple((q, names[x], names[y]) for q, x, y in premises)
    return [(q, original[x], original[y]) for q, x, y in _valid_renamed(renamed, "t0", names[c])]


@lru_cache(maxsize=65536)
def _valid_renamed(premises: tuple[Statement, ...], a: str, c: str) -> tuple[Statement, ...]:
    return tuple(s for s in candidate_conclusions(a, c) if follows(premises, s))


def _strongest(premises: tuple[Statement, ...], a: str, c: str) -> str:
    valid = valid_conclusions(premises, a, c)
    return statement_text(valid[0]) if valid else NOTHING


def solve(item: SyllogismItem) -> str:
    """The canonical strongest conclusion about the end terms, or "nothing follows"."""
    return _strongest(item.premises, item.terms[0], item.terms[-1])


def solution_steps(item: SyllogismItem) -> list[str]:
    """Turn premises stated against the chain, then chain them: "<so far> and <premise> so <now>"."""
    steps: list[str] = []
    so_far = ""
    for i, premise in enumerate(item.premises):
        left, right = item.terms[i], item.terms[i + 1]
        if premise[1] != left:
            turned = valid_conclusions((premise,), left, right)
            turned = [s for s in turned if s[1] == left]
            if turned:
                steps.append(f"{statement_text(premise)} so {statement_text(turned[0])}")
        now = _strongest(item.premises[: i + 1], item.terms[0], right)
        if i > 0:
            steps.append(f"{so_far} and {statement_text(premise)} so {now}")
        if now == NOTHING:
            break  # along a chain nothing can follow about T0 once nothing follows about T0 and Ti
        so_far = now
    return steps


def surface_features(item: SyllogismItem, prompt: str) -> dict[str, float]:
    """Common features plus quantifier counts and premises stated against the chain."""
    steps = solution_steps(item)
    features = common_features(
        prompt, n_premises=len(item.premises), steps=steps, n_entities=len(item.terms)
    )
    for quantifier in QUANTIFIERS:
        features[f"feat_n_{quantifier}"] = float(sum(p[0] == quantifier for p in item.premises))
    features["feat_n_turned"] = float(
        sum(p[1] != item.terms[i] for i, p in enumerate(item.premises))
    )
    return features


def sample(
    rng: random.Random,
    *,
    n_premises: int | tuple[int, int] = (2, 4),
    terms: tuple[str, ...] = TERMS,
    valid_probability: float | None = 0.5,
) -> SyllogismItem:
    """A random chain of quantified premises over distinct terms.

    `valid_probability` balances items with a valid conclusion against "nothing follows" (most
    random chains have none); None samples quantifiers uniformly.
    """
    n_range = int_range(n_premises, "n_premises")
    want_valid = None if valid_probability is None else rng.random() < valid_probability
    while True:
        chain = tuple(sample_chain(rng, n_range, terms, "terms"))
        premises = link_chain(rng, chain, QUANTIFIERS)
        item = SyllogismItem(tuple(premises), chain)
        if want_valid is None or (solve(item) != NOTHING) == want_valid:
            return item


def vocabulary() -> frozenset[str]:
    """Template words plus the term pool."""
    return (
        frozenset(_TEMPLATE_WORDS)
        | {w.capitalize() for w in ("all", "some", "no")}
        | frozenset(TERMS)
    )


def mood_figure(item: SyllogismItem) -> str:
    """Classical name of a two-premise syllogism, e.g. "AA1" (moods A/I/E/O, figures 1-4)."""
    if len(item.premises) != 2:
        raise ValueError("mood and figure are defined for two premises")
    (q1, s1, _), (q2, s2, _) = item.premises
    a, b, _ = item.terms
    figure = {(a, b): 1, (b, item.terms[2]): 2, (a, item.terms[2]): 3, (b, b): 4}[(s1, s2)]
    return f"{MOOD_LETTER[q1]}{MOOD_LETTER[q2]}{figure}"


def template_id(item: SyllogismItem) -> str:
    """Quantifiers and term order with terms relabelled along the chain."""
    names = relabel(item.terms)
    return "syl:" + premise_signature(item.premises, names)


FAMILY = family_from_functions(
    "syllogistic",
    "quantified premises (all/some/no/some not): what follows about the end terms?",
    globals(),
)
