"""`probe_layers(activations, items) -> ProbeTable` and `ProbeTable.plot(ax=)`.

The table must be what the probe stage writes for the same activations, a layer that carries the
target must score above one that does not, and plotting must draw onto the given Axes without
choosing a global matplotlib backend.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from mimicry.data.tasks import load_task
from mimicry.probes.capture import capture, capture_run
from mimicry.probes.probing import ProbeConfig, ProbeTable, probe_layers, run_probes
from mimicry.probes.probing.layers import PROBE_COLUMNS

SMALL = ProbeConfig(folds=3, n_boot=50, n_perm=20, seed=0)


@pytest.fixture(scope="module")
def planted():
    """48 items in 12 templates; layer 2 holds log RT in one direction, layers 0-1 are noise."""
    rng = np.random.default_rng(0)
    n = 48
    rt = rng.uniform(800, 4000, n)
    items = pd.DataFrame(
        {
            "item_id": [f"i{k:02d}" for k in range(n)],
            "task": ["t"] * n,
            "prompt": [f"prompt {k}" for k in range(n)],
            "answer": ["yes"] * n,
            "human_rt_ms": rt,
            "group": [f"g{k % 12}" for k in range(n)],
        }
    )
    acts = rng.normal(size=(n, 3, 8)).astype(np.float32)
    z = (rt - rt.mean()) / rt.std()
    acts[:, 2, 0] = 3 * z + 0.1 * rng.normal(size=n)
    return items, acts


def test_probe_layers_finds_the_planted_layer_with_controls(planted):
    items, acts = planted
    result = probe_layers(acts, items, targets=["human_rt"], config=SMALL, model="planted")
    assert isinstance(result, ProbeTable)
    assert repr(result).startswith(f"ProbeTable({len(result.table)} rows")
    table = result.table
    assert list(table.columns) == list(PROBE_COLUMNS)
    r2 = table[(table["metric"] == "r2") & (table["feature_set"] == "activations")]
    assert r2["layer"].tolist() == [0, 1, 2]
    by_layer = r2.set_index("layer")["score"]
    assert by_layer[2] > 0.8 and by_layer[0] < 0.2
    control = table[(table["metric"] == "r2") & (table["feature_set"] == "control")]
    assert control["layer"].tolist() == [0, 1, 2] and (control["score"] < 0.3).all()
    row = r2.set_index("layer").loc[2]
    assert row["ci_low"] <= row["score"] <= row["ci_high"]
    assert row["selectivity"] == pytest.approx(row["score"] - row["control_score"])
    assert row["p_value"] < 0.1
    assert set(table["feature_set"]) == {"activations", "control", "embedding", "surface"}
    assert len(result.predictions) == 3 * len(items)


def test_plot_draws_onto_the_given_axes_without_a_global_backend(planted):
    items, acts = planted
    backend = matplotlib.rcParams._get_backend_or_none()
    result = probe_layers(acts, items, targets=["human_rt"], config=SMALL, model="planted")
    fig = Figure()
    ax = fig.subplots()
    assert result.plot(ax=ax) is ax
    labels = [line.get_label() for line in ax.lines]
    assert "planted" in labels and "planted control" in labels and "planted surface" in labels
    curve = ax.lines[labels.index("planted")]
    assert list(curve.get_xdata()) == [0.0, 0.5, 1.0]
    assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the CI band
    assert ax.get_title() == "human_rt at activations"
    assert matplotlib.rcParams._get_backend_or_none() == backend


def test_probe_layers_on_a_capture_equals_the_probe_stage(tiny_model_factory, tmp_path):
    """The stage runs the same fit per model x position: its probes.csv equals the in-memory
    table on the same activations."""
    model_path = tiny_model_factory("qwen2")
    items = load_task("relational_3ps")
    items.to_csv(tmp_path / "items.csv", index=False)
    run = tmp_path / "run"
    capture_run(
        model_path, tmp_path / "items.csv", run, "m", positions="last_prompt", entropy=False
    )
    run_probes(run, targets=["human_rt", "human_acc"], config=SMALL, figures=False)
    stage = pd.read_csv(run / "probes" / "probes.csv")

    captured = capture(model_path, items, name="m", positions="last_prompt", entropy=False)
    memory = probe_layers(captured, targets=["human_rt", "human_acc"], config=SMALL).table
    assert len(memory) == len(stage) > 0
    text = ["model", "position", "target", "probe", "feature_set", "metric"]
    assert memory[text].values.tolist() == stage[text].values.tolist()
    for column in ("layer", "rel_depth", "score", "ci_low", "ci_high", "p_value", "n_items"):
        np.testing.assert_allclose(
            memory[column].to_numpy(float), stage[column].to_numpy(float), rtol=1e-6, atol=1e-9
        )
