"""Write a run's model records (RUN/roles.json) for tests that assemble run folders by hand."""

from __future__ import annotations

import json
from pathlib import Path

from mimicry.data.models import ROSTER_FILE, Roster


def write_roster(run: Path, names: list[str]) -> Roster:
    """Records for `names` by the naming convention, written where the pipeline writes them."""
    roster = Roster.from_names(names)
    (Path(run) / ROSTER_FILE).write_text(json.dumps(roster.to_json()))
    return roster
