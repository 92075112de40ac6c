"""Number and table formatting shared by the Markdown and HTML reports."""

from __future__ import annotations

import html
import math

import pandas as pd


def num(value, digits: int = 3) -> str:
    """A float with fixed decimals; blanks for missing values; integers stay integers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (
        isinstance(value, float) and value.is_integer() and abs(value) > 99
    ):
        return f"{int(value)}"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def with_ci(estimate, low, high, digits: int = 2) -> str:
    """`0.53 [0.31, 0.70]`."""
    if estimate is None or (isinstance(estimate, float) and math.isnan(estimate)):
        return "–"
    return f"{num(estimate, digits)} [{num(low, digits)}, {num(high, digits)}]"


def ci_column(
    frame: pd.DataFrame, estimate: str, low: str, high: str, digits: int = 2
) -> list[str]:
    """One `with_ci` cell per row of `frame`, from its estimate and CI-bound columns."""
    return [with_ci(*v, digits=digits) for v in frame[[estimate, low, high]].to_numpy()]


def p_value(value) -> str:
    """p with three decimals, `<0.001` below that."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(value):
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of already-formatted cells."""
    if frame.empty:
        return "_(no rows)_"
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(str(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def html_table(frame: pd.DataFrame, caption: str = "") -> str:
    """A booktabs-style HTML table (numbers right-aligned by CSS class)."""
    if frame.empty:
        return f"<p class='empty'>{html.escape(caption)}: no rows.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            text = str(value)
            numeric = text[:1].isdigit() or text[:1] in "-–<." or text.startswith("−")
            cells.append(f"<td class='{'n' if numeric else 't'}'>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
