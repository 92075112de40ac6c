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

import data as _data_package
from data.errors import InputError
from data.exclusions import Exclusions

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
    from distill.ablate.length_matched import FILLER_STEP, FILLER_TOKEN

    words = {w for r in load_rephrasings().values() for w in r.split()}
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
