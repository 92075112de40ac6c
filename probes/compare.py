"""Cross-model comparison on relative depth: linear CKA and the difficulty direction's cosine.

Pairs come from roles (student vs base, student vs teacher, teacher vs base) given as
`teacher=T,base=B,student=S1,student=S2`, or the run's model records (`RUN/roles.json`), else
every pair of models.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from mimicry.data.errors import InputError
from mimicry.data.models import ROSTER_FILE, read_roster
from mimicry.probes.cka import linear_cka
from mimicry.probes.directions import cosine

ROLES = ("teacher", "base", "student")
COMPARE_COLUMNS = (
    "model_a",
    "model_b",
    "role_a",
    "role_b",
    "position",
    "layer_a",
    "layer_b",
    "rel_depth_a",
    "rel_depth_b",
    "cka",
    "direction_cosine",
    "n_items",
)


def parse_roles(text: str) -> dict[str, list[str]]:
    """`teacher=T,base=B,student=S` -> {"teacher": ["T"], "base": ["B"], "student": ["S"]}."""
    roles: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        role, sep, name = part.partition("=")
        if not sep or role.strip() not in ROLES or not name.strip():
            raise InputError(
                f"bad role {part!r}; use role=NAME with role in {ROLES}", field="roles"
            )
        roles.setdefault(role.strip(), []).append(name.strip())
    return roles


def load_roles(
    run: str | Path, text: str | None, available: list[str] | None = None
) -> dict[str, list[str]]:
    """Roles from the option, else the run's model records (RUN/roles.json), else none.

    From the records, only `available` models (those with activations) are given roles: a model
    known only by its traces is not compared.
    """
    if text:
        return parse_roles(text)
    if not (Path(run) / ROSTER_FILE).is_file():
        return {}
    roster = read_roster(run)
    if available is not None:
        roster = roster.restricted(available)
    return {role: names for role, names in roster.role_names().items() if names}


def model_pairs(models: list[str], roles: dict[str, list[str]]) -> list[tuple[str, str, str, str]]:
    """(model_a, model_b, role_a, role_b) for every comparison to make among available models."""
    if not roles:
        return [(a, b, "", "") for a, b in itertools.combinations(sorted(models), 2)]
    for names in roles.values():
        for name in names:
            if name not in models:
                raise InputError(
                    f"role model {name!r} has no activations (have: {sorted(models)})",
                    field="roles",
                )
    pairs = []
    for student in roles.get("student", []):
        for other in ("base", "teacher"):
            pairs += [(student, name, "student", other) for name in roles.get(other, [])]
    for teacher in roles.get("teacher", []):
        pairs += [(teacher, name, "teacher", "base") for name in roles.get("base", [])]
    return pairs


def matched_layer(layer: int, n_layers_a: int, n_layers_b: int) -> int:
    """Layer of model b nearest in relative depth (layer / n_layers) to `layer` of model a."""
    return int(round(layer / n_layers_a * n_layers_b))


def compare_pair(
    name_a: str,
    name_b: str,
    acts_a: tuple[list[str], np.ndarray],
    acts_b: tuple[list[str], np.ndarray],
    directions_a: np.ndarray | None,
    directions_b: np.ndarray | None,
    *,
    position: str,
    roles: tuple[str, str] = ("", ""),
) -> list[dict]:
    """Rows for every layer of model a matched to model b on relative depth (shared items only)."""
    ids_a, resid_a = acts_a
    ids_b, resid_b = acts_b
    shared = sorted(set(ids_a) & set(ids_b))
    if len(shared) < 3:
        return []
    index_a = pd.Index(ids_a).get_indexer(shared)
    index_b = pd.Index(ids_b).get_indexer(shared)
    layers_a, layers_b = resid_a.shape[1] - 1, resid_b.shape[1] - 1
    same_width = resid_a.shape[2] == resid_b.shape[2]
    rows = []
    for layer_a in range(layers_a + 1):
        layer_b = matched_layer(layer_a, layers_a, layers_b)
        direction_cosine = float("nan")
        if same_width and directions_a is not None and directions_b is not None:
            direction_cosine = cosine(directions_a[layer_a], directions_b[layer_b])
        rows.append(
            {
                "model_a": name_a,
                "model_b": name_b,
                "role_a": roles[0],
                "role_b": roles[1],
                "position": position,
                "layer_a": layer_a,
                "layer_b": layer_b,
                "rel_depth_a": layer_a / layers_a,
                "rel_depth_b": layer_b / layers_b,
                "cka": linear_cka(resid_a[index_a, layer_a], resid_b[index_b, layer_b]),
                "direction_cosine": direction_cosine,
                "n_items": len(shared),
            }
        )
    return rows
