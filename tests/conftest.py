"""Shared fixtures: tiny random-init models saved once per session."""

from __future__ import annotations

import os

import pytest

from tests.tiny_models import make_tiny_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_factory(tmp_path_factory):
    """`factory(arch, **config)` -> path of a saved tiny random-init model, cached per session."""
    cache: dict = {}

    def factory(arch: str, **kwargs):
        key = (arch, tuple(sorted(kwargs.items())))
        if key not in cache:
            directory = tmp_path_factory.mktemp(f"tiny-{arch}")
            cache[key] = make_tiny_model(directory, arch, **kwargs)
        return cache[key]

    return factory
