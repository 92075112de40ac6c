"""Control tasks (Hewitt & Liang 2019) and permutation nulls: labels shuffled within task.

Shuffling within task keeps each task's label distribution (and any task-level signal a probe
could read from the activations) while breaking the item-level link, so `score - control_score`
(selectivity) measures what the probe learns about items beyond task identity and capacity.
"""

from __future__ import annotations

import numpy as np

from mimicry.data.stats import permutation_matrix

CONTROL_STREAM = 1
PERMUTATION_STREAM = 2


def label_matrix(
    y: np.ndarray, tasks: np.ndarray, *, n_control: int, n_perm: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(real labels [n], control labels [n, n_control], permuted labels [n, n_perm]).

    Control and permutation labels come from separate seeded streams, so adding permutations
    never changes the control task.
    """
    y = np.asarray(y)
    control_index = permutation_matrix(tasks, n_control, seed * 1000 + CONTROL_STREAM)
    perm_index = permutation_matrix(tasks, n_perm, seed * 1000 + PERMUTATION_STREAM)
    return y, y[control_index].T.reshape(len(y), n_control), y[perm_index].T.reshape(len(y), n_perm)
