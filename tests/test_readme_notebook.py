"""The README's notebook example runs as it stands (so it cannot drift from the API).

The block under "## Use it from a notebook" is executed in a temporary folder on the shipped
organism (about 20 s); its objects must be what the README says they are.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


def notebook_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Use it from a notebook", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the notebook section holds exactly one python block"
    return blocks[0]


def test_the_notebook_block_is_short():
    lines = [line for line in notebook_block().splitlines() if line.strip()]
    assert len(lines) <= 10


def test_the_readme_notebook_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import matplotlib.pyplot as plt

    tree = ast.parse(notebook_block())
    last = ast.Expression(tree.body.pop().value)  # the block ends with the table it shows
    namespace: dict = {}
    exec(compile(tree, "README.md", "exec"), namespace)
    summary = eval(compile(last, "README.md", "eval"), namespace)
    try:
        cap, probes = namespace["cap"], namespace["probes"]
        n_items = len(namespace["items"])
        assert cap["last_prompt"].shape == (n_items, 7, 128)
        assert isinstance(cap.entropy, pd.DataFrame) and len(cap.entropy) > 0
        table = probes.table
        assert set(table["layer"]) >= set(range(7)) and {"control", "surface"} <= set(
            table["feature_set"]
        )
        ax = plt.gca()
        assert ax.lines and ax.collections
        assert (tmp_path / "runs/notebook/activations/teacher/manifest.json").is_file()
        assert (tmp_path / "runs/notebook/entropy/teacher.csv").is_file()
        assert summary["model"].tolist() == ["teacher"]
        assert summary["n_items"].iloc[0] > 0 and -1 <= summary["r_bar"].iloc[0] <= 1
    finally:
        plt.close("all")
