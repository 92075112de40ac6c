"""One error type for bad user input, so the CLI can print one line and exit 2 without a traceback."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input named by file, row and field.

    Args:
        message: what is wrong, in words a user can act on.
        file: the offending file, if any.
        row: 1-based data row (CSV: the header is row 0; JSONL: the line number).
        field: the offending column or key.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        where = ": ".join(parts)
        one_line = " ".join(self.message.split())
        return f"{where}: {one_line}" if where else one_line
