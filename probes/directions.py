"""Difference-of-means difficulty directions: mean activation of hard items minus easy items.

Hard and easy are the top and bottom within-task tertiles of human difficulty (`difficulty_bin`).
Directions are stored per model and position as unit vectors with the raw difference norm and the
typical residual norm of the layer, which `probes.steer` uses to scale an intervention.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from jaxtyping import Float

from mimicry.data.errors import InputError

Array = np.ndarray
EASY, HARD = 0, 2


def difficulty_directions(
    resid: Float[Array, "n layer d"], bins: Float[Array, " n"]
) -> dict[str, np.ndarray]:
    """Per layer: unit direction (hard minus easy), the raw difference norm and mean residual norm."""
    resid = np.asarray(resid, dtype=np.float64)
    hard, easy = bins == HARD, bins == EASY
    if hard.sum() == 0 or easy.sum() == 0:
        raise InputError(
            "difficulty directions need both hard and easy items", field="difficulty_bin"
        )
    diff = resid[hard].mean(axis=0) - resid[easy].mean(axis=0)  # [layer, d]
    norm = np.linalg.norm(diff, axis=-1)
    unit = diff / np.where(norm > 0, norm, 1.0)[:, None]
    return {
        "direction": unit.astype(np.float32),
        "diff_norm": norm.astype(np.float32),
        "resid_norm": np.linalg.norm(resid, axis=-1).mean(axis=0).astype(np.float32),
        "n_hard": np.array([hard.sum()], dtype=np.int64),
        "n_easy": np.array([easy.sum()], dtype=np.int64),
    }


def directions_path(run: str | Path, model: str, position: str) -> Path:
    """Where a model's directions for one position are stored."""
    return Path(run) / "probes" / "directions" / model / f"{position}.safetensors"


def save_directions(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """Write directions as safetensors."""
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path))


def load_directions(path: str | Path) -> dict[str, np.ndarray]:
    """Read directions written by `save_directions`."""
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise InputError("no difficulty directions (run `mimicry probe` first)", file=path)
    return load_file(str(path))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (NaN if either is zero)."""
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denom) if denom > 0 else float("nan")
