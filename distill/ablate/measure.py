"""Token counts and token-level cuts under one tokenizer, so every length an ablation holds fixed is
measured in the student's own tokens (or in words when no tokenizer is given)."""

from __future__ import annotations

import re
from bisect import bisect_left

_WORD = re.compile(r"\w+|[^\w\s]")


class TokenMeasure:
    """Count tokens of text and find token boundaries.

    Args:
        tokenizer: a fast tokenizer (offsets needed); None measures in words and punctuation marks,
            which is exact for the suite's word tokenizers.
    """

    def __init__(self, tokenizer=None, *, label: str = "words") -> None:
        self.tokenizer = tokenizer
        self.label = label
        self._cache: dict[str, list[tuple[int, int]]] = {}

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character span of every token of `text`, special tokens excluded."""
        if text not in self._cache:
            if self.tokenizer is None:
                spans = [m.span() for m in _WORD.finditer(text)]
            else:
                encoded = self.tokenizer(
                    text, add_special_tokens=False, return_offsets_mapping=True
                )
                spans = [tuple(span) for span in encoded["offset_mapping"]]
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[text] = spans
        return self._cache[text]

    def count(self, text: str) -> int:
        """Number of tokens of `text`."""
        return len(self.spans(text)) if text else 0

    def cut(self, text: str, n_tokens: int) -> str:
        """The prefix of `text` holding its first `n_tokens` tokens."""
        spans = self.spans(text)
        if n_tokens >= len(spans):
            return text
        if n_tokens <= 0:
            return ""
        return text[: spans[n_tokens - 1][1]]

    def token_index(self, text: str, char_positions: list[int]) -> list[int]:
        """Index of the first token starting at or after each character position."""
        starts = [start for start, _ in self.spans(text)]
        return [bisect_left(starts, position) for position in char_positions]

    def unknown_tokens(self, text: str) -> int:
        """Tokens of `text` that map to the tokenizer's unknown token (0 without a tokenizer)."""
        if self.tokenizer is None or self.tokenizer.unk_token_id is None or not text:
            return 0
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return sum(1 for i in ids if i == self.tokenizer.unk_token_id)
