"""Reading user text files: UTF-8 decoding and JSON-lines parsing with one clear error each.

Item tables, trace files and SFT training files all come from users; a bad byte or a bad line
must name the file and row the same way whichever of them it is in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mimicry.data.errors import InputError


def read_utf8(path: Path, *, row_of_line: Callable[[int], int] = lambda line: line) -> str:
    """The file's text, decoded as UTF-8 with a leading byte-order mark removed.

    An undecodable byte raises `InputError` naming the byte, its offset and line; `row_of_line`
    maps that 1-based line to the row the error reports (a CSV's header line is row 0).
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}, line {line});"
            " save the file as UTF-8",
            file=path,
            row=row_of_line(line),
        ) from None
    return text.removeprefix("\ufeff")


def parse_json_object(line: str, path: Path, row: int) -> dict[str, Any]:
    """One JSON-lines line parsed as a JSON object; anything else is an `InputError` at `row`."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON: {error.msg}", file=path, row=row) from None
    if not isinstance(record, dict):
        raise InputError("expected a JSON object per line", file=path, row=row)
    return record
