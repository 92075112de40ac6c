"""A quiet terminal: the suite's own progress only, unless `--verbose`.

The libraries the suite drives print progress bars (weights loading, shard writing, datasets maps)
and deprecation warnings that are theirs to fix (trl reads `is_gradient_checkpointing`). They are
switched off for one CLI invocation, scoped, not at import: a notebook that imports the library
keeps the libraries' defaults.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

# warnings raised inside the libraries the suite drives, not by anything the suite passes
LIBRARY_WARNINGS = (
    r".*is_gradient_checkpointing.*",
    r".*`torch_dtype` is deprecated.*",
)


@contextlib.contextmanager
def quiet(verbose: bool = False) -> Iterator[None]:
    """Silence library progress bars and library warnings for the block (no-op when verbose)."""
    if verbose:
        yield
        return
    saved = {k: os.environ.get(k) for k in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE")}
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TQDM_DISABLE"] = "1"
    restore = []
    try:
        from transformers.utils import logging as hf_logging

        was = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        restore.append(lambda: hf_logging.set_verbosity(level))
        if was:
            restore.append(hf_logging.enable_progress_bar)
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass
    try:
        import datasets

        datasets.disable_progress_bars()
        restore.append(datasets.enable_progress_bars)
    except ImportError:  # pragma: no cover
        pass
    with warnings.catch_warnings():
        for pattern in LIBRARY_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        warnings.filterwarnings(
            "ignore",
            category=FutureWarning,
            module=r"(transformers|trl|peft|accelerate|datasets|nnsight|transformer_lens)\..*",
        )
        warnings.filterwarnings(
            "ignore",
            category=UserWarning,
            module=r"(transformers|trl|peft|accelerate|datasets|nnsight|transformer_lens|torch)\..*",
        )
        try:
            yield
        finally:
            for undo in reversed(restore):
                undo()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
