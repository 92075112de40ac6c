"""Held-fixed checks: statistics that prove each ablation set holds its factor fixed.

Every check compares a set's reasoning with the teacher's, item by item, in the measure's tokens.
A set passes when every condition it promises holds for every item; `check.json` records the
conditions, their values and the summary statistics (n, mean, sd, range) behind them.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter

from mimicry.data.stats import pearson
from mimicry.distill.ablate.common import Example
from mimicry.distill.ablate.measure import TokenMeasure
from mimicry.distill.ablate.steps import split_steps, step_starts
from mimicry.distill.lexicon import content_words, matchers


def _describe(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "sd": statistics.pstdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def _pearson(x: list[float], y: list[float]) -> float | None:
    r = float(pearson(x, y)) if len(x) >= 3 else math.nan
    return None if math.isnan(r) else r


def _condition(value, expected: str, ok: bool) -> dict:
    return {"value": value, "expected": expected, "ok": bool(ok)}


def _tokens(text: str, measure: TokenMeasure) -> list[str]:
    return [text[a:b] for a, b in measure.spans(text)]


def _starts(text: str, measure: TokenMeasure) -> list[int]:
    steps = split_steps(text)
    return measure.token_index(text, step_starts(steps))


def step_content(text: str) -> list[str]:
    """Content words of the step bodies, in order (markers such as "Step 3:" are format)."""
    return [w for step in split_steps(text) for w in content_words(step.body)]


def _multiset_jaccard(a: list[str], b: list[str]) -> float:
    ca, cb = Counter(a), Counter(b)
    union = sum((ca | cb).values())
    return 1.0 if union == 0 else sum((ca & cb).values()) / union


def _per_1k(texts: list[str], category: str, measure: TokenMeasure) -> float:
    tokens = sum(measure.count(t) for t in texts)
    hits = sum(matchers()[category].count(t) for t in texts)
    return 1000.0 * hits / tokens if tokens else math.nan


def check_set(name: str, examples: list[Example], measure: TokenMeasure) -> dict:
    """Conditions and statistics for one set (dispatch by set name)."""
    originals = [e.source.reasoning for e in examples]
    ablated = [e.reasoning for e in examples]
    len_orig = [measure.count(t) for t in originals]
    len_new = [measure.count(t) for t in ablated]
    stats = {
        "n_items": len(examples),
        "tokens_original": _describe(len_orig),
        "tokens_ablated": _describe(len_new),
        "length_corr_with_original": _pearson(len_orig, len_new),
        "content_word_jaccard": _describe(
            [
                _multiset_jaccard(step_content(a), step_content(b))
                for a, b in zip(originals, ablated, strict=True)
            ]
        ),
        "fillers_per_1k": {
            "original": _per_1k(originals, "fillers", measure),
            "ablated": _per_1k(ablated, "fillers", measure),
        },
        "connectives_per_1k": {
            "original": _per_1k(originals, "connectives", measure),
            "ablated": _per_1k(ablated, "connectives", measure),
        },
        "unknown_tokens": sum(measure.unknown_tokens(e.completion()) for e in examples),
    }
    conditions = CONDITIONS[name](examples, originals, ablated, len_orig, len_new, measure, stats)
    return {
        "set": name,
        "measure": measure.label,
        "passed": bool(examples) and all(c["ok"] for c in conditions.values()),
        "conditions": conditions,
        "stats": stats,
    }


def _original(examples, originals, ablated, len_orig, len_new, measure, stats) -> dict:
    same = sum(a == b for a, b in zip(originals, ablated, strict=True)) / max(1, len(examples))
    return {"identical_to_teacher_fraction": _condition(same, "== 1", same == 1)}


def _format_fixed(examples, originals, ablated, len_orig, len_new, measure, stats) -> dict:
    pairs = list(zip(originals, ablated, strict=True))
    n = max(1, len(pairs))
    same_len = sum(a == b for a, b in zip(len_orig, len_new, strict=True)) / n
    same_starts = sum(_starts(a, measure) == _starts(b, measure) for a, b in pairs) / n
    same_markers = (
        sum(
            [s.marker for s in split_steps(a)] == [s.marker for s in split_steps(b)]
            for a, b in pairs
        )
        / n
    )
    changed_steps, agreement = [], []
    for a, b in pairs:
        sa, sb = split_steps(a), split_steps(b)
        changed_steps.append(
            sum(x.body != y.body for x, y in zip(sa, sb, strict=False)) / max(1, len(sa))
        )
        ta, tb = _tokens(a, measure), _tokens(b, measure)
        agreement.append(sum(x == y for x, y in zip(ta, tb, strict=False)) / max(1, len(ta)))
    stats["changed_step_fraction"] = _describe(changed_steps)
    stats["token_agreement_with_original"] = _describe(agreement)
    min_changed = min(changed_steps, default=0.0)
    return {
        "token_length_equal_fraction": _condition(same_len, "== 1", same_len == 1),
        "step_start_positions_equal_fraction": _condition(same_starts, "== 1", same_starts == 1),
        "step_markers_equal_fraction": _condition(same_markers, "== 1", same_markers == 1),
        "min_changed_step_fraction": _condition(
            min_changed, "> 0 (every trace has new content)", min_changed > 0
        ),
    }


def _content_fixed(examples, originals, ablated, len_orig, len_new, measure, stats) -> dict:
    pairs = list(zip(originals, ablated, strict=True))
    n = max(1, len(pairs))
    same_content = sum(step_content(a) == step_content(b) for a, b in pairs) / n
    changed = sum(a != b for a, b in pairs) / n
    fillers_after = stats["fillers_per_1k"]["ablated"]
    return {
        "content_words_equal_fraction": _condition(same_content, "== 1", same_content == 1),
        "surface_changed_fraction": _condition(changed, "> 0", changed > 0),
        "fillers_per_1k_after": _condition(fillers_after, "== 0", fillers_after == 0),
    }


def _length_matched(examples, originals, ablated, len_orig, len_new, measure, stats) -> dict:
    target = examples[0].info.get("target") if examples else None
    stats["target_tokens"] = target
    stats["teacher_tokens_kept_fraction"] = _describe(
        [e.info["teacher_tokens_kept"] / max(1, e.info["original_tokens"]) for e in examples]
    )
    stats["n_truncated"] = sum(e.info["original_tokens"] > e.info["target"] for e in examples)
    stats["n_padded"] = sum(e.info["filler_tokens"] > 0 for e in examples)
    variance = statistics.pvariance(len_new) if len(len_new) > 1 else 0.0
    all_target = all(n == target for n in len_new)
    return {
        "token_length_variance": _condition(variance, "== 0", variance == 0),
        "all_at_target_length": _condition(all_target, "true", all_target),
    }


CONDITIONS = {
    "original": _original,
    "format_fixed_content_varied": _format_fixed,
    "content_fixed_format_varied": _content_fixed,
    "length_matched": _length_matched,
}
