"""Lexical markers of reasoning traces: anthropomorphic tokens, hedges, connectives and fillers.

The lexicons are shipped as data (`data/lexicons/`, documented there). `lexicon_report` counts
each category per 1,000 reasoning tokens, per model and within-task difficulty bin, with bootstrap
CIs, and a Spearman trend of each rate on difficulty with its CI and p.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import mimicry.data as _data_package
from mimicry.data.errors import InputError
from mimicry.data.exclusions import Exclusions

LEXICON_DIR = Path(_data_package.__file__).parent / "lexicons"
CATEGORIES = ("anthropomorphic", "hedges", "connectives", "fillers")
STAGE = "lexicon"
BIN_LABELS = ("easy", "medium", "hard")
_WORDS = re.compile(r"[a-z]+(?:'[a-z]+)?")


def lower_words(text: str) -> list[str]:
    """Lower-case words (letters and inner apostrophes) of `text`, the unit lexicon phrases match."""
    return _WORDS.findall(text.lower().replace("\u2019", "'"))


def _read_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


@lru_cache(maxsize=4)
def load_lexicons(directory: str | None = None) -> dict[str, tuple[str, ...]]:
    """Category -> phrases, read from `directory` (default: the shipped lexicons)."""
    root = Path(directory) if directory else LEXICON_DIR
    found = {}
    for category in CATEGORIES:
        path = root / f"{category}.txt"
        if not path.is_file():
            raise InputError("lexicon file missing", file=path)
        found[category] = tuple(_read_lines(path))
    return found


@lru_cache(maxsize=4)
def load_rephrasings(directory: str | None = None) -> dict[str, str]:
    """Phrase -> replacement used by the content_fixed_format_varied ablation."""
    path = (Path(directory) if directory else LEXICON_DIR) / "rephrasings.tsv"
    table = {}
    for line in _read_lines(path):
        source, _, target = line.partition("\t")
        if not target.strip():
            raise InputError("expected 'phrase<TAB>replacement'", file=path, field=line)
        table[source.strip().lower()] = target.strip()
    return table


class PhraseMatcher:
    """Greedy longest-first, non-overlapping matching of word phrases."""

    def __init__(self, phrases) -> None:
        self.phrases = {tuple(lower_words(p)) for p in phrases} - {()}
        self.max_len = max((len(p) for p in self.phrases), default=0)

    def spans(self, words: list[str]) -> list[tuple[int, int]]:
        """(start, end) word spans of matched phrases."""
        found, i = [], 0
        while i < len(words):
            for size in range(min(self.max_len, len(words) - i), 0, -1):
                if tuple(words[i : i + size]) in self.phrases:
                    found.append((i, i + size))
                    i += size
                    break
            else:
                i += 1
        return found

    def count(self, text: str) -> int:
        """Occurrences of any phrase in `text`."""
        return len(self.spans(lower_words(text)))


@lru_cache(maxsize=4)
def matchers(directory: str | None = None) -> dict[str, PhraseMatcher]:
    """One matcher per category."""
    return {c: PhraseMatcher(p) for c, p in load_lexicons(directory).items()}


@lru_cache(maxsize=4)
def function_matcher(directory: str | None = None) -> PhraseMatcher:
    """Every lexicon phrase and rephrasing: what is *not* content in a reasoning step."""
    phrases = [p for ps in load_lexicons(directory).values() for p in ps]
    table = load_rephrasings(directory)
    return PhraseMatcher([*phrases, *table, *table.values()])


def content_words(text: str, directory: str | None = None) -> list[str]:
    """Words of `text` that are not lexicon phrases (the content an ablation may hold fixed)."""
    words = lower_words(text)
    covered = set()
    for start, end in function_matcher(directory).spans(words):
        covered.update(range(start, end))
    return [w for i, w in enumerate(words) if i not in covered]


def ablation_vocabulary() -> list[str]:
    """Words an ablation may introduce into a trace (replacements, filler step): word-tokenizer
    students (the organism) must have them in their vocabulary."""
    from mimicry.distill.ablate.length_matched import FILLER_STEP, FILLER_TOKEN

    words = {w for r in load_rephrasings().values() for w in r.split()}
    words |= {w[:1].upper() + w[1:] for w in words}  # replacements keep sentence-initial case
    words.update(FILLER_STEP.split())
    words.add(FILLER_TOKEN.strip())
    words.update({"Step", ":"})
    return sorted(words)


@dataclass
class LexiconSummary:
    """Where `lexicon_report` wrote its tables and what it excluded."""

    out_dir: Path
    n_traces: int = 0
    exclusions: Exclusions = field(default_factory=Exclusions)


def difficulty_bins(items, n_bins: int, exclusions: Exclusions):
    """item_id -> (task, bin label, difficulty): within-task quantile bins of human RT, or of
    error (1 - accuracy) for tasks without RT norms. Items without a norm, and tasks with fewer
    items than bins, are counted as exclusions."""
    import pandas as pd

    labels = BIN_LABELS if n_bins == 3 else tuple(f"bin{i + 1}" for i in range(n_bins))
    rows = {}
    for task, group in items.groupby("task", sort=True):
        use_rt = "human_rt_ms" in group and group["human_rt_ms"].notna().any()
        if use_rt:
            difficulty = group["human_rt_ms"]
        elif "human_acc" in group and group["human_acc"].notna().any():
            difficulty = 1.0 - group["human_acc"]
        else:
            exclusions.add(STAGE, "no_difficulty_norm", task=str(task), n=len(group))
            continue
        missing = difficulty.isna()
        if missing.any():
            exclusions.add(STAGE, "no_difficulty_norm", task=str(task), n=int(missing.sum()))
        difficulty = difficulty[~missing]
        if len(difficulty) < n_bins:
            exclusions.add(STAGE, "too_few_items_for_bins", task=str(task), n=len(difficulty))
            continue
        bins = pd.qcut(difficulty.rank(method="first"), n_bins, labels=list(labels))
        for index in difficulty.index:
            rows[str(group.at[index, "item_id"])] = (
                str(task),
                str(bins[index]),
                float(difficulty[index]),
            )
    return rows, labels


def _rate_ci(counts, tokens, rng, n_boot: int) -> tuple[float, float, float]:
    """Rate per 1k tokens (ratio of sums) with a bootstrap CI over traces."""
    import numpy as np

    from mimicry.data import stats

    counts, tokens = np.asarray(counts, float), np.asarray(tokens, float)
    rate = 1000.0 * counts.sum() / tokens.sum()
    draws = stats.bootstrap_indices(rng, n_boot, len(counts))
    boot = 1000.0 * counts[draws].sum(1) / np.maximum(tokens[draws].sum(1), 1.0)
    low, high = stats.percentile_ci(boot)
    return rate, float(low), float(high)


def _spearman(x, y) -> tuple[float, float]:
    """Spearman rho and its t-test p (as scipy's); NaN when either side is constant."""
    from mimicry.data.stats import correlate

    corr = correlate(x, y, method="spearman")
    return corr.r, corr.p_value


def _trend(x, y, rng, n_boot: int) -> dict:
    """Spearman trend of per-trace rates over difficulty bins, bootstrap CI over traces."""
    import numpy as np

    from mimicry.data import stats

    rho, p_value = _spearman(x, y)
    low = high = np.nan
    if np.isfinite(rho) and n_boot > 0:
        draws = stats.bootstrap_indices(rng, min(n_boot, 500), len(x))
        low, high = stats.percentile_ci(stats.spearman(x[draws], y[draws], axis=-1))
    return {
        "n": len(x),
        "spearman_rho": rho,
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": p_value,
    }


def lexicon_report(
    trace_paths,
    items_path,
    out_dir,
    *,
    tokenizer=None,
    n_bins: int = 3,
    n_boot: int = 1000,
    seed: int = 0,
) -> LexiconSummary:
    """Lexicon rates per model x task x difficulty bin (and pooled over tasks), their trend over
    difficulty, CSVs and a figure, written atomically to `out_dir`.

    Writes `lexicon.csv` (model, task, bin, n_traces, n_tokens, category, count, per_1k, ci_low,
    ci_high), `lexicon_trend.csv` (model, category, n, spearman_rho, ci_low, ci_high, p_value:
    per-trace rate against within-task difficulty rank), `exclusions.csv`, `figures/lexicon.png`.
    """
    import numpy as np
    import pandas as pd

    from mimicry.data.fileio import atomic_dir
    from mimicry.data.items import read_items
    from mimicry.data.traces import read_traces

    items = read_items(items_path)
    summary = LexiconSummary(out_dir=Path(out_dir))
    ledger = summary.exclusions
    count_tokens = None
    if tokenizer is not None:
        from mimicry.probes.loading import load_tokenizer

        tok = load_tokenizer(tokenizer) if isinstance(tokenizer, str | Path) else tokenizer

        def count_tokens(texts):
            return [len(ids) for ids in tok(list(texts), add_special_tokens=False)["input_ids"]]

    paths = [trace_paths] if isinstance(trace_paths, str | Path) else list(trace_paths)
    frame, _ = read_traces(
        paths, item_ids=items["item_id"], count_tokens=count_tokens, exclusions=ledger
    )
    bins, labels = difficulty_bins(items, n_bins, ledger)
    records = []
    for row in frame.itertuples(index=False):
        if row.n_reasoning_tokens <= 0 or not row.reasoning.strip():
            ledger.add(STAGE, "empty_reasoning", model=row.model, example=row.item_id)
            continue
        if row.item_id not in bins:
            ledger.add(STAGE, "item_not_binned", model=row.model, example=row.item_id)
            continue
        task, label, _ = bins[row.item_id]
        counts = {c: m.count(row.reasoning) for c, m in matchers().items()}
        records.append(
            {
                "model": row.model,
                "task": task,
                "bin": label,
                "item_id": row.item_id,
                "tokens": int(row.n_reasoning_tokens),
                **counts,
            }
        )
    if not records:
        raise InputError(
            "no traces left to count (see exclusions: no norms, empty reasoning)", file=paths[0]
        )
    table = pd.DataFrame(records)
    summary.n_traces = len(table)
    rank = {label: i for i, label in enumerate(labels)}
    table["bin_index"] = table["bin"].map(rank)
    rng = np.random.default_rng(seed)
    rows = []
    pooled = table.assign(task="all")
    for (model, task, label), group in pd.concat([table, pooled]).groupby(
        ["model", "task", "bin"], sort=True
    ):
        for category in CATEGORIES:
            rate, low, high = _rate_ci(group[category], group["tokens"], rng, n_boot)
            rows.append(
                {
                    "model": model,
                    "task": task,
                    "bin": label,
                    "n_traces": len(group),
                    "n_tokens": int(group["tokens"].sum()),
                    "category": category,
                    "count": int(group[category].sum()),
                    "per_1k": rate,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    trend = []
    for model, group in table.groupby("model", sort=True):
        x = group["bin_index"].to_numpy(dtype=float)
        for category in CATEGORIES:
            y = (1000.0 * group[category] / group["tokens"]).to_numpy()
            trend.append({"model": model, "category": category, **_trend(x, y, rng, n_boot)})
    result = pd.DataFrame(rows)
    with atomic_dir(summary.out_dir) as tmp:
        result.to_csv(tmp / "lexicon.csv", index=False)
        pd.DataFrame(trend).to_csv(tmp / "lexicon_trend.csv", index=False)
        ledger.write_csv(tmp / "exclusions.csv")
        (tmp / "figures").mkdir()
        _plot(result[result["task"] == "all"], labels, tmp / "figures" / "lexicon.png")
    return summary


def _plot(pooled, labels, path: Path) -> None:
    """One panel per category: rate per 1k tokens by difficulty bin, one line per model.

    Drawn on a `Figure` with its own Agg canvas: no global backend is chosen (a notebook that
    imports the suite keeps its inline plots)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * len(CATEGORIES), 3.0))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(CATEGORIES), sharex=True, squeeze=False)[0]
    x = {label: i for i, label in enumerate(labels)}
    for ax, category in zip(axes, CATEGORIES, strict=True):
        sub = pooled[pooled["category"] == category]
        for model, group in sub.groupby("model", sort=True):
            group = group.sort_values("bin", key=lambda s: s.map(x))
            xs = group["bin"].map(x)
            ax.plot(xs, group["per_1k"], marker="o", label=model)
            ax.fill_between(xs, group["ci_low"], group["ci_high"], alpha=0.2)
        ax.set_title(category)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel("difficulty (within task)")
    axes[0].set_ylabel("per 1,000 reasoning tokens")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
