"""Trainer arguments every trl trainer of the suite passes: CPU-safe, no deprecated names, quiet.

trl's configs default `gradient_checkpointing=True`, a deprecated alias in transformers 5 that warns
on every run; the suite passes the new name instead (off: the models it trains on a CPU are small).
"""

from __future__ import annotations

QUIET_TRAINER_ARGS = {
    "gradient_checkpointing": None,
    "activation_checkpointing": False,
    "report_to": "none",
    "disable_tqdm": True,
}


def without_printer(trainer):
    """Drop the callback that prints every log dict to stdout (the suite reports progress itself)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer
