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
    texts: Iterable[str],
    extra_words: Iterable[str] = (),
    *,
    whole_tokens: Iterable[str] = (),
    chat_template: str | None = None,
) -> PreTrainedTokenizerFast:
    """Build a word-level tokenizer whose vocabulary covers every word of `texts`.

    `whole_tokens` are kept as single tokens (chat markers such as "<|im_start|>"), and
    `chat_template` is stored on the tokenizer, so a tiny model can mimic a real model family.
    Vocabulary order is deterministic (specials, markers, then sorted words), so the same texts
    always give the same token ids.
    """
    markers = (*MARKERS, *dict.fromkeys(t for t in whole_tokens if t not in MARKERS))
    texts = list(texts)
    for marker in markers:
        texts = [t.replace(marker, " ") for t in texts]
    vocab_words = sorted({w for t in texts for w in words_of(t)} | set(extra_words))
    vocab = {tok: i for i, tok in enumerate((*SPECIALS, *markers, *vocab_words))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Split(Regex(r"\w+|[^\w\s]"), behavior="isolated"),
        ]
    )
    core.add_special_tokens([AddedToken(t, special=True) for t in SPECIALS])
    core.add_tokens([AddedToken(t, special=False, normalized=False) for t in markers])
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, vocab[BOS])]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",
        add_bos_token=True,
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def load_word_tokenizer(directory: str | Path) -> PreTrainedTokenizerFast:
    """Reload a saved word-level tokenizer (AutoTokenizer would substitute the model's own class)."""
    return PreTrainedTokenizerFast.from_pretrained(str(directory), add_bos_token=True)
