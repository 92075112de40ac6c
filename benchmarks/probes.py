"""Benchmark: fast nested-CV ridge vs a plain scikit-learn GridSearchCV(Ridge) loop, same folds.

Default problem (issue 5): 29 layers x 2,000 items x 1,536 dims, 5 outer grouped folds with 5
inner grouped folds, 10 alphas. The scikit-learn loop is timed on `--sklearn-layers` layers and
extrapolated to all layers (it is linear in layers), each right after the fast fit of the same
layer, so a paired ratio is also printed; both are run in the same process on the same
data (float64, one BLAS thread each), and the scores and out-of-fold predictions are compared on
the layers both fitted. Both wall-clock and process CPU time are reported: with one BLAS thread the
CPU time is the cost of the work itself, so its ratio holds on a shared, loaded machine where the
wall-clock ratio drifts with other users' load.

    .venv/bin/python benchmarks/probes.py [--layers 29 --items 2000 --dims 1536 --sklearn-layers 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# This file is named like the `probes` package; keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.model_selection import GridSearchCV, GroupKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from mimicry.probes.probing.cv import nested_splits  # noqa: E402
from mimicry.probes.probing.metrics import r2  # noqa: E402
from mimicry.probes.probing.ridge import ridge_nested_cv  # noqa: E402


def layer_data(layer: int, n: int, d: int, y: np.ndarray) -> np.ndarray:
    """Random activations with a layer-dependent linear signal (so alpha choice matters)."""
    rng = np.random.default_rng(1000 + layer)
    x = rng.normal(size=(n, d))
    x[:, :8] += (0.05 * layer) * y[:, None]
    return x


def sklearn_loop(x, y, groups, splits, alphas, seed):
    oof = np.zeros(len(y))
    for train, test, _ in splits:
        search = GridSearchCV(
            make_pipeline(StandardScaler(), Ridge()),
            {"ridge__alpha": alphas},
            cv=GroupKFold(5, shuffle=True, random_state=seed),
        )
        search.fit(x[train], y[train], groups=groups[train])
        oof[test] = search.predict(x[test])
    return oof


def main() -> None:
    from threadpoolctl import threadpool_limits

    # One BLAS thread for both sides: the machine is shared, and oversubscribed threads make
    # timings meaningless. The comparison is like for like.
    with threadpool_limits(1):
        _main()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=29)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--dims", type=int, default=1536)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--sklearn-layers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    y = rng.normal(size=args.items)
    groups = rng.integers(0, args.groups, size=args.items)
    alphas = np.logspace(-1, 5, 10)
    splits = nested_splits(groups, 5, args.seed)
    print(
        f"problem: {args.layers} layers x {args.items} items x {args.dims} dims, "
        f"5 outer x 5 inner grouped folds, {len(alphas)} alphas"
    )

    k = min(args.sklearn_layers, args.layers)
    chosen = set(np.linspace(0, args.layers - 1, k).round().astype(int).tolist())
    fast_wall, fast_cpu, sk_wall, sk_cpu = {}, {}, {}, {}
    fast_scores, fast_oof, sk_oof = [], [], {}
    for layer in range(args.layers):
        x = layer_data(layer, args.items, args.dims, y)
        start, cpu_start = time.perf_counter(), time.process_time()
        result = ridge_nested_cv(x, y, splits, alphas)
        fast_wall[layer] = time.perf_counter() - start
        fast_cpu[layer] = time.process_time() - cpu_start
        fast_oof.append(result.oof)
        fast_scores.append(float(r2(y, result.oof)))
        if layer in chosen:
            # Timed right after the fast fit of the same layer, so both see the same machine load.
            start, cpu_start = time.perf_counter(), time.process_time()
            sk_oof[layer] = sklearn_loop(x, y, groups, splits, alphas, args.seed)
            sk_wall[layer] = time.perf_counter() - start
            sk_cpu[layer] = time.process_time() - cpu_start

    def per_layer(times: dict, layers) -> float:
        return float(np.mean([times[layer] for layer in layers]))

    every = range(args.layers)
    print(
        f"mimicry fast ridge, all {args.layers} layers: {sum(fast_wall.values()):.1f} s wall "
        f"({per_layer(fast_wall, every):.2f} s/layer), {sum(fast_cpu.values()):.1f} s CPU "
        f"({per_layer(fast_cpu, every):.2f} s/layer)"
    )
    sk_per_wall, sk_per_cpu = per_layer(sk_wall, chosen), per_layer(sk_cpu, chosen)
    print(
        f"sklearn GridSearchCV(Ridge) loop on {k} of {args.layers} layers {sorted(chosen)}: "
        f"{sum(sk_wall.values()):.1f} s wall ({sk_per_wall:.2f} s/layer), "
        f"{sum(sk_cpu.values()):.1f} s CPU ({sk_per_cpu:.2f} s/layer) -> extrapolated (linear "
        f"in layers) to {args.layers} layers: {sk_per_wall * args.layers:.1f} s wall, "
        f"{sk_per_cpu * args.layers:.1f} s CPU"
    )
    diff_pred = max(np.abs(sk_oof[layer] - fast_oof[layer]).max() for layer in sk_oof)
    diff_score = max(abs(float(r2(y, sk_oof[layer])) - fast_scores[layer]) for layer in sk_oof)
    print(f"max abs diff: out-of-fold predictions {diff_pred:.2e}, held-out R^2 {diff_score:.2e}")
    print(
        f"speed-up (per layer, same run, all layers): "
        f"{sk_per_wall / per_layer(fast_wall, every):.1f}x wall, "
        f"{sk_per_cpu / per_layer(fast_cpu, every):.1f}x CPU"
    )
    print(
        f"speed-up (paired: the same {k} layers, timed back to back): "
        f"{sk_per_wall / per_layer(fast_wall, chosen):.1f}x wall, "
        f"{sk_per_cpu / per_layer(fast_cpu, chosen):.1f}x CPU"
    )
    print("held-out R^2 by layer:", " ".join(f"{s:.3f}" for s in fast_scores))


if __name__ == "__main__":
    main()
