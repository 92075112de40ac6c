"""Word-level tokenizers built offline, for the organism and for tiny test models.

No hub is reachable, so small models get a tokenizer made from their own vocabulary: words and
single punctuation marks are tokens, `<think>`/`</think>` are whole tokens, and a bos token is
prepended, as in the reasoning models the suite studies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
SPECIALS = (PAD, UNK, BOS, EOS)
MARKERS = (THINK_OPEN, THINK_CLOSE)
_WORD = re.compile(r"\w+|[^\w\s]")


def words_of(text: str) -> list[str]:
    """Split text the way the tokenizer's pre-tokenizer does (markers excluded)."""
    for marker in MARKERS:
        text = text.replace(marker, " ")
    return _WORD.findall(text)


def build_word_tokenizer(
    texts: Iterable[str], extra_words: Iterable[str] = ()
) -> PreTrainedTokenizerFast:
    """Build a word-level tokenizer whose vocabulary covers every word of `texts`.

    Vocabulary order is deterministic (specials, markers, then sorted words), so the same texts
    always give the same token ids.
    """
    vocab_words = sorted({w for t in texts for w in words_of(t)} | set(extra_words))
    vocab = {tok: i for i, tok in enumerate((*SPECIALS, *MARKERS, *vocab_words))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Split(Regex(r"\w+|[^\w\s]"), behavior="isolated"),
        ]
    )
    core.add_special_tokens([AddedToken(t, special=True) for t in SPECIALS])
    core.add_tokens([AddedToken(t, special=False, normalized=False) for t in MARKERS])
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, vocab[BOS])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",
        add_bos_token=True,
    )


def load_word_tokenizer(directory: str | Path) -> PreTrainedTokenizerFast:
    """Reload a saved word-level tokenizer (AutoTokenizer would substitute the model's own class)."""
    return PreTrainedTokenizerFast.from_pretrained(str(directory), add_bos_token=True)
