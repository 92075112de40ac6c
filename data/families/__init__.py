"""Task families: structured items with one prompt template, a solver, a step-by-step derivation,
surface features and a random generator each. Built-in human items and generated training items
are rendered by the same family code, so they share templates, vocabulary and features.

Use `get_family(name)`; `FAMILIES` maps names to `Family` records.

`conceptarc` (ARC grid puzzles, the optional built-in task of the same name) is a built-in-only
family: it has no generator and no derivation, so it has no `Family` record and is not in
`FAMILIES` (the families `data.generators.families()` can generate).
"""

from __future__ import annotations

from mimicry.data.errors import InputError
from mimicry.data.families import cardinal, propositional, relational, syllogistic
from mimicry.data.families.base import Family, words_of

FAMILIES: dict[str, Family] = {
    module.FAMILY.name: module.FAMILY
    for module in (relational, cardinal, syllogistic, propositional)
}


def get_family(name: str) -> Family:
    """The family called `name`; unknown names are bad user input."""
    try:
        return FAMILIES[name]
    except KeyError:
        known = ", ".join(FAMILIES)
        raise InputError(f"unknown task family {name!r} (known: {known})", field="family") from None


__all__ = ["FAMILIES", "Family", "get_family", "words_of"]
