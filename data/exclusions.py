"""A ledger of excluded items: every exclusion is counted by reason and ends up in the report."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mimicry.data.fileio import atomic_file

EXCLUSION_COLUMNS = ("stage", "model", "task", "reason", "n", "example")


@dataclass
class Exclusions:
    """Counts of excluded items keyed by (stage, model, task, reason), with one example each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def add(
        self,
        stage: str,
        reason: str,
        *,
        model: str = "",
        task: str = "",
        n: int = 1,
        example: str = "",
    ) -> None:
        """Record `n` exclusions for a reason; keeps the first example (an item id or row) for the report."""
        key = (stage, model, task, reason)
        self.counts[key] += n
        self.examples.setdefault(key, example)

    def merge(self, other: Exclusions) -> None:
        """Add another ledger's counts into this one."""
        for key, n in other.counts.items():
            self.counts[key] += n
            self.examples.setdefault(key, other.examples.get(key, ""))

    def total(
        self, *, stage: str | None = None, model: str | None = None, task: str | None = None
    ) -> int:
        """Total exclusions, optionally restricted to a stage, model and/or task."""
        return sum(
            n
            for (s, m, t, _), n in self.counts.items()
            if (stage is None or s == stage)
            and (model is None or m == model)
            and (task is None or t == task)
        )

    def rows(self) -> list[dict]:
        """One dict per (stage, model, task, reason), sorted, for CSV and report tables."""
        return [
            {
                "stage": s,
                "model": m,
                "task": t,
                "reason": r,
                "n": n,
                "example": self.examples.get((s, m, t, r), ""),
            }
            for (s, m, t, r), n in sorted(self.counts.items())
        ]

    def write_csv(self, path: str | Path) -> None:
        """Write `exclusions.csv` (header even when empty, so 'no exclusions' is explicit)."""
        with atomic_file(path) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=EXCLUSION_COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows())
