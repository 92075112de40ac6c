"""The shipped registry of real teacher / student / base models and their trace conventions."""

from mimicry.experiments.registry.loader import (
    Convention,
    ModelEntry,
    Registry,
    Triple,
    load_registry,
)

__all__ = ["Convention", "ModelEntry", "Registry", "Triple", "load_registry"]
