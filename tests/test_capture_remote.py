"""The remote path: a capture shipped through nnsight's remote serialisation (remote="local", the
serverless dry run of NDIF) gives the same residuals as a local capture."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from mimicry.experiments.cli import run
from mimicry.probes.capture import capture_run


def _items(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(
        "item_id,task,prompt,answer\n"
        "a,t,A is left of B .,yes\n"
        "b,t,B is left of C . Is A left of C ?,yes\n"
        "c,t,All artists are bakers .,no\n"
    )
    return path


def test_remote_local_equals_local_capture(tmp_path, tiny_model_factory):
    model = tiny_model_factory("qwen2")
    items = _items(tmp_path)
    here = capture_run(model, items, tmp_path / "here", "m", batch_size=2, entropy=False)
    remote = capture_run(model, items, tmp_path / "remote", "m", batch_size=2, remote="local")
    assert remote.entropy is None  # entropy needs the in-process attention hook
    for position in ("last_prompt", "mean_prompt"):
        a = load_file(here.activations / f"{position}.safetensors")["resid"]
        b = load_file(remote.activations / f"{position}.safetensors")["resid"]
        assert a.shape == b.shape and (a - b).abs().max().item() < 1e-6
    manifest = json.loads((remote.activations / "manifest.json").read_text())
    assert manifest["remote"] == "local"


def test_ndif_without_key_is_one_line_exit_2(tmp_path, tiny_model_factory, monkeypatch, capsys):
    from nnsight import CONFIG

    monkeypatch.delenv("NDIF_API_KEY", raising=False)
    if getattr(CONFIG.API, "APIKEY", None):
        pytest.skip("an NDIF key is configured on this machine")
    code = run(
        [
            "capture",
            "--model",
            str(tiny_model_factory("qwen2")),
            "--items",
            str(_items(tmp_path)),
            "--out",
            str(tmp_path / "run"),
            "--remote",
            "ndif",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NDIF_API_KEY" in err[0]
    assert not (tmp_path / "run" / "activations").exists()


def test_auto_batch_size_follows_free_memory_and_is_recorded(tmp_path, tiny_model_factory):
    import torch

    from mimicry.probes.memory import auto_batch_size

    small = auto_batch_size(
        n_tokens=4096, d_model=8192, n_layers=80, dtype=torch.bfloat16, device="cpu", cap=10**9
    )
    large = auto_batch_size(
        n_tokens=64, d_model=64, n_layers=2, dtype=torch.float32, device="cpu", cap=10**9
    )
    assert 1 <= small < large
    result = capture_run(
        tiny_model_factory("qwen2"), _items(tmp_path), tmp_path / "run", "m", batch_size=0
    )
    manifest = json.loads((result.activations / "manifest.json").read_text())
    assert manifest["batch_size_requested"] == 0 and manifest["batch_size"] >= 1
