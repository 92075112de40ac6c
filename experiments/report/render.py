"""Write `RUN/report/report.md` and a self-contained `RUN/report/index.html` (figures inlined as
base64 PNG, CSS inline, no scripts or links out), so the report opens offline and can be mailed."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from pathlib import Path

import pandas as pd
import yaml
from pydantic import ValidationError

from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions
from mimicry.data.fileio import atomic_file
from mimicry.experiments.config.stage_options import ReportConfig
from mimicry.experiments.report import (
    ablation_sections,
    behaviour_section,
    figures,
    gate_sections,
    probe_sections,
    sections,
)
from mimicry.experiments.report import entropy_section as entropy_sections
from mimicry.experiments.report.collect import collect
from mimicry.experiments.report.cost_sections import inflation_section, wrong_right_section
from mimicry.experiments.report.effort_section import effort_section
from mimicry.experiments.report.formatting import html_table, markdown_table

CSS = """
body{font-family:"Latin Modern Roman","Computer Modern","Times New Roman",Georgia,serif;
 color:#111;background:#fff;max-width:1120px;margin:2.2em auto;padding:0 1.5em;line-height:1.4;
 font-size:14.5px}
h1{font-size:1.7em;margin:0 0 .1em;font-weight:600}
h2{font-size:1.22em;margin:1.9em 0 .5em;border-bottom:1px solid #999;padding-bottom:.15em;font-weight:600}
.meta{color:#555;font-size:.92em;margin-bottom:1em}
nav{font-size:.92em;margin:1em 0 1.5em;padding:.6em .9em;background:#f6f6f4;border-left:3px solid #888}
nav a{color:#1a4f8b;text-decoration:none;margin-right:1.1em}
table{border-collapse:collapse;margin:.6em 0 1.3em;font-size:.86em;border-top:1.6px solid #111;
 border-bottom:1.6px solid #111}
caption{caption-side:top;text-align:left;font-size:.95em;padding-bottom:.35em;color:#222}
caption::before{content:"Table. ";font-weight:600}
thead th{border-bottom:1px solid #111;padding:.3em .7em;text-align:left;font-weight:600}
td{padding:.22em .7em;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:nth-child(even){background:#fafafa}
figure{margin:1em 0 1.6em}
figure img{max-width:100%;border:0}
figcaption{font-size:.92em;color:#222;margin-top:.3em}
figcaption::before{content:"Figure. ";font-weight:600}
pre{background:#f6f6f4;padding:.8em;font-size:.8em;overflow-x:auto;border-left:3px solid #888}
.empty{color:#777;font-style:italic}
.scroll{max-height:520px;overflow-y:auto;display:inline-block}
"""


def _timings(run_dir: Path) -> pd.DataFrame | None:
    rows = []
    for stamp in sorted((run_dir / ".stamps").glob("*/*/.mimicry-stamp.json")):
        info = json.loads(stamp.read_text())
        rows.append(
            {
                "stage": info.get("stage", ""),
                "unit": info.get("unit", ""),
                "seconds": f"{float(info.get('seconds', 0.0)):.1f}",
            }
        )
    if not rows:
        return None
    from mimicry.experiments.config import STAGE_NAMES

    frame = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(STAGE_NAMES)}
    return frame.sort_values(
        "stage", key=lambda c: c.map(lambda s: order.get(s, 99)), kind="stable"
    )


MODEL_COLUMNS = ("model", "student", "base", "model_a", "model_b")


def mark_failed(section: sections.Section, found: dict) -> None:
    """Mark models that failed the validity gate in a section's tables and figure captions."""
    failed = sorted(m for m, v in found.items() if not v.interpretable)
    for index, (caption, frame) in enumerate(section.tables):
        frame = frame.copy()
        for column in MODEL_COLUMNS:
            if column in frame:
                frame[column] = frame[column].map(
                    lambda m: (
                        m
                        if str(m).endswith(gate_sections.FAIL_MARK)
                        else gate_sections.mark(m, found)
                    )
                )
        section.tables[index] = (caption, frame)
    if failed:
        note = " † not interpretable (validity gate): " + ", ".join(failed) + "."
        for figure in section.figures:
            figure.caption += note


def build_report(run_dir: str | Path, *, versions: dict[str, str] | None = None) -> Path:
    """Render the report of `run_dir`; return the path of `index.html`."""
    from mimicry.experiments.cli import stack_versions

    tables = collect(run_dir)
    run_dir = tables.run_dir
    config = yaml.safe_load(tables.config_text) if tables.config_text else {}
    config = config or {}
    # the report's options: RUN/config.yaml's `report` section on the one ReportConfig's defaults
    try:
        config["report"] = ReportConfig.model_validate(config.get("report") or {}).model_dump()
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(["report", *map(str, first["loc"])])
        raise InputError(first["msg"], file=run_dir / "config.yaml", field=field) from None
    colours = figures.model_colours(sections.all_models(tables), tables.roster)
    validity, found = gate_sections.gate(tables)
    colours.labels = {m: gate_sections.mark(m, found, figure=True) for m in colours}
    own = Exclusions()
    entropy_section, entropy = entropy_sections.entropy_section(tables, colours, config, own)
    later = [
        sections.overview(tables, colours),
        behaviour_section.behaviour(tables, colours),
        inflation_section(tables),
        wrong_right_section(tables),
        probe_sections.probes_section(tables, colours),
        effort_section(tables, colours),
        entropy_section,
        probe_sections.compare_section(tables, colours),
        ablation_sections.ablation_section(tables, colours, entropy),
        ablation_sections.steer_section(tables, colours),
        sections.exclusions_section(tables, own),
        sections.provenance_section(tables, versions or stack_versions(), _timings(run_dir)),
    ]
    manipulation = gate_sections.manipulation_section(tables, found)
    for section in [manipulation, *later]:
        mark_failed(section, found)
    parts = [
        gate_sections.validity_section(validity, found),
        gate_sections.findings_section(tables, found, entropy, config),
        manipulation,
        *later,
    ]
    out = run_dir / "report"
    figure_dir = out / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    for number, section in enumerate(parts, start=1):
        for figure in section.figures:
            figure.name = f"s{number}_{figure.name}"
            with atomic_file(figure_dir / f"{figure.name}.png") as tmp:
                tmp.write_bytes(figure.png)
    if entropy is not None:
        with atomic_file(out / "entropy_difficulty.csv") as tmp:
            entropy.to_csv(tmp, index=False)
    own.write_csv(out / "exclusions.csv")
    title = config["report"]["title"]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = f"run {config.get('name', run_dir.name)} · seed {config.get('seed', '–')} · {run_dir} · generated {stamp}"
    with atomic_file(out / "report.md") as tmp:
        tmp.write_text(_markdown(title, meta, parts), encoding="utf-8")
    with atomic_file(out / "index.html") as tmp:
        tmp.write_text(_html(title, meta, parts), encoding="utf-8")
    return out / "index.html"


def _markdown(title: str, meta: str, parts: list[sections.Section]) -> str:
    lines = [f"# {title}", "", f"_{meta}_", ""]
    for number, section in enumerate(parts, start=1):
        lines += [f"## {number}. {section.title}", ""]
        lines += [*(p + "\n" for p in section.paragraphs)]
        for caption, frame in section.tables:
            lines += [f"**{caption}**", "", markdown_table(frame.astype(str)), ""]
        for figure in section.figures:
            lines += [
                f"![{figure.caption}](figures/{figure.name}.png)",
                "",
                f"_{figure.caption}_",
                "",
            ]
        for caption, text in section.preformatted:
            lines += [f"**{caption}**", "", "```yaml", text.rstrip(), "```", ""]
    return "\n".join(lines)


def _html(title: str, meta: str, parts: list[sections.Section]) -> str:
    nav = " ".join(
        f"<a href='#{s.anchor}'>{n}. {html.escape(s.title.split(':')[0])}</a>"
        for n, s in enumerate(parts, start=1)
    )
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<div class='meta'>{html.escape(meta)}</div>",
        f"<nav>{nav}</nav>",
    ]
    for number, section in enumerate(parts, start=1):
        body.append(f"<h2 id='{section.anchor}'>{number}. {html.escape(section.title)}</h2>")
        body += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
        for figure in section.figures:
            data = base64.b64encode(figure.png).decode("ascii")
            width = int(int.from_bytes(figure.png[16:20], "big") * 96 / 150 * 1.1)
            body.append(
                f"<figure><img alt='{html.escape(figure.caption)}' style='width:{width}px' "
                f"src='data:image/png;base64,{data}'>"
                f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>"
            )
        for caption, frame in section.tables:
            table = html_table(frame.astype(str), caption)
            body.append(f"<div class='scroll'>{table}</div>" if len(frame) > 25 else table)
        for caption, text in section.preformatted:
            body.append(f"<p><b>{html.escape(caption)}</b></p><pre>{html.escape(text)}</pre>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
