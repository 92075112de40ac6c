"""The probe stage on a real SmolLM2-135M-Instruct capture: 200 items x 31 layers x d576 x 4 positions.

Builds a run folder with the suite's own commands, then times `run_probes` (the `mimicry probe`
stage, default targets and settings) in a fresh subprocess: wall, CPU (the stage's process and
its worker processes) and the stage process's peak RSS.

- Items (200): the demo's built-in human-normed tasks, relational_3ps (16), relational_4ps (44),
  cardinal_directions (56) and syllogisms (64) = 180 items with human norms (RT for the first
  three, accuracy for syllogisms), plus 10 generated relational and 10 generated cardinal items
  (`mimicry data export ... gen:relational:10 gen:cardinal:10`), which have no human norms: they
  enter the own-effort targets and are counted as exclusions for the human ones, as in a study.
- Traces: the shipped organism teacher (`distill/organism/weights/teacher`) generates on the
  200 items with `mimicry generate` (greedy, 192 new tokens; seconds, where SmolLM2 itself would
  take tens of minutes on this CPU). SmolLM2 reads those traces (`mimicry capture --traces`, the
  four default positions last_prompt, mean_prompt, mean_trace, think_open, attention entropy
  with the default method). The same traces are also written as `RUN/traces/smollm2.jsonl`
  (model renamed) so that the model targets (own_length, correct and the two partial targets)
  exist for the captured model: the probe stage fits its 4 default targets (human_rt,
  own_length, correct, difficulty_bin; `--targets all` adds human_acc and the two partial
  targets), the workload of a study (the model targets' values are those of the text SmolLM2
  read, not of SmolLM2's own answers).
- Baseline in the same run: the same probe stage on the same run cut to 1 block (layers 0 and 1,
  the 2 of 31 activation layers), extrapolated linearly to 31 layers; the ratio full /
  extrapolated says how far the stage is from linear in layers (fixed costs, figures).

`--unit-costs` times one probe per target at one layer in one process instead and adds them up
to the stage; `--logistic` adds the logistic class probe (`class_probe: logistic`), timed at 1
and 4 permutations and extrapolated to 200 (the stage with it would take about a day of CPU).

The capture is cached in the run folder: `--reuse` skips data, generate and capture when the
capture is there, so re-timing the probe stage costs the probe stage only.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/smollm2_probe.py [--run runs/bench-smollm2-probe] \
        [--reuse] [--unit-costs [--logistic]] [--targets default|all] [--n-jobs N] \
        [--model DIR] [--json smollm2_probe.json] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ROOT / "distill" / "organism" / "weights" / "teacher"
TASKS = ("relational_3ps", "relational_4ps", "cardinal_directions", "syllogisms")
GENERATED = ("gen:relational:10", "gen:cardinal:10")
NAME = "smollm2"


def find_smollm2() -> Path:
    """The converted SmolLM2 folder in the mimicry cache (converting the cached .gguf once)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mimicry"
    for folder in sorted(cache.glob("smollm2-*/hf")):
        if (folder / "model.safetensors").is_file():
            return folder
    for gguf in sorted(cache.glob("smollm2-*/*.gguf")):
        from mimicry.probes.gguf_import import import_gguf

        return import_gguf(gguf, gguf.parent / "hf")
    sys.exit(f"no SmolLM2 in {cache} (run the real_model tests once, or pass --model)")


def mimicry(*args: str) -> dict:
    """Run one `mimicry` command; wall and CPU seconds of that child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [sys.executable, "-m", "mimicry.experiments", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:1])} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu}


def build_run(run: Path, model: Path) -> dict:
    """Items, teacher traces and the SmolLM2 capture, each by the suite's own command."""
    run.mkdir(parents=True, exist_ok=True)
    items, traces = run / "items.csv", run / "traces"
    teacher_traces = traces / "teacher.jsonl"
    times = {}
    if not items.is_file():
        times["data"] = mimicry(
            "data", "export", *TASKS, *GENERATED, "--seed", "0", "--out", str(items)
        )
    times["generate"] = mimicry(
        "generate", "--model", str(TEACHER), "--items", str(items), "--out", str(teacher_traces),
        "--name", "teacher", "--max-new-tokens", "192", "--batch-size", "64", "--seed", "0",
    )  # fmt: skip
    renamed = [json.loads(line) | {"model": NAME} for line in teacher_traces.open()]
    (traces / f"{NAME}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in renamed))
    times["capture"] = mimicry(
        "capture", "--model", str(model), "--items", str(items), "--out", str(run),
        "--traces", str(teacher_traces), "--trace-model", "teacher", "--name", NAME,
    )  # fmt: skip
    return times


def one_block_copy(run: Path) -> Path:
    """The same run with activations cut to layers 0..1 (n_layers 1), for the baseline."""
    from safetensors.numpy import load_file, save_file

    small = run.parent / f"{run.name}-1block"
    if small.exists():
        shutil.rmtree(small)
    (small / "activations" / NAME).mkdir(parents=True)
    shutil.copy(run / "items.csv", small / "items.csv")
    shutil.copytree(run / "traces", small / "traces")
    source = run / "activations" / NAME
    manifest = json.loads((source / "manifest.json").read_text())
    for position in manifest["positions"]:
        resid = load_file(str(source / f"{position}.safetensors"))["resid"]
        save_file(
            {"resid": resid[:, :2].copy()},
            str(small / "activations" / NAME / f"{position}.safetensors"),
        )
    manifest["n_layers"] = 1
    (small / "activations" / NAME / "manifest.json").write_text(json.dumps(manifest))
    return small


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _cpu_seconds() -> float:
    """CPU of this process and of its finished children (the probe stage's worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def probe_child(run: Path, targets: str, n_jobs: int) -> None:
    """Time the probe stage in this fresh process; one JSON line."""
    from joblib.externals.loky import get_reusable_executor

    from mimicry.probes.probing import ProbeConfig, run_probes
    from mimicry.probes.probing.targets import ALL_TARGETS

    config = ProbeConfig(n_jobs=n_jobs)
    if targets == "all":
        config = ProbeConfig(targets=list(ALL_TARGETS), n_jobs=n_jobs)
    cpu0 = _cpu_seconds()
    start = time.perf_counter()
    out = run_probes(run, config=config)
    wall = time.perf_counter() - start
    get_reusable_executor().shutdown(wait=True)  # reap the workers, so their CPU is counted
    import pandas as pd

    table = pd.read_csv(out / "probes.csv")
    row = {"wall_s": wall, "cpu_s": _cpu_seconds() - cpu0, "n_jobs": config.n_jobs}
    row |= {"peak_rss_mb": _status_mb("VmHWM"), "rows": len(table)}
    row |= {"targets": sorted(table["target"].unique()), "layers": int(table["layer"].max()) + 1}
    print(json.dumps(row))


def unit_costs(run: Path, layer: int, perms: tuple[int, int], logistic: bool) -> dict:
    """Seconds of one probe (run_probe: fit, control task, permutation null) per target at one
    layer of one position, as the stage calls it. Ridge targets with the default config; logistic
    targets at two small permutation counts, scaled by the number of lbfgs fits to the default
    200 permutations (the mean seconds per fit of both runs). The stage is this times
    (layers + surface) x positions."""
    import numpy as np

    from mimicry.data.exclusions import Exclusions
    from mimicry.probes.probing.cv import nested_splits
    from mimicry.probes.probing.probe import ProbeConfig, run_probe
    from mimicry.probes.probing.run_reader import discover_models, read_item_table, read_run_traces
    from mimicry.probes.probing.targets import ALL_TARGETS, build_targets

    items = read_item_table(run / "items.csv")
    acts = discover_models(run, items)[NAME]
    aligned = items.set_index("item_id", drop=False).loc[acts.item_ids].reset_index(drop=True)
    traces = read_run_traces(run, items["item_id"].tolist(), Exclusions())
    targets = build_targets(aligned, traces, NAME, list(ALL_TARGETS), Exclusions())
    x_all = acts.load("last_prompt")[:, layer]
    default = ProbeConfig()
    out = {}
    for target in targets.values():
        keep = np.isfinite(target.values)
        y = target.values[keep]
        if target.kind == "class":
            _, y = np.unique(y, return_inverse=True)
        groups = aligned["group"].astype(str).to_numpy()[keep]
        tasks = aligned["task"].astype(str).to_numpy()[keep]
        splits = nested_splits(groups, default.folds, default.seed)

        def seconds(config, x=x_all[keep], y=y, tasks=tasks, splits=splits, target=target):
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu, start = usage.ru_utime + usage.ru_stime, time.perf_counter()
            run_probe(x, y, target.kind, tasks, splits, config, n_classes=target.n_classes)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return time.perf_counter() - start, usage.ru_utime + usage.ru_stime - cpu

        row = {"kind": target.kind, "n_items": int(keep.sum())}
        row["wall_s"], row["cpu_s"] = seconds(default)  # ridge / ridge classifier
        if target.kind == "class" and logistic:
            # A logistic probe is 1 + n_control nested-CV fits (outer x (Cs x inner + 1) lbfgs
            # fits each) plus one outer-only refit per permutation (C fixed to the real one's).
            n_outer, n_inner = len(splits), len(splits[0][2])
            searched = n_outer * (len(default.cs) * n_inner + 1)

            def fits(k, searched=searched, n_outer=n_outer):
                return (1 + default.n_control) * searched + n_outer * k

            measured = {
                k: seconds(ProbeConfig(class_probe="logistic", n_perm_logistic=k)) for k in perms
            }
            per_fit = [
                sum(t[i] / fits(k) for k, t in measured.items()) / len(measured) for i in (0, 1)
            ]
            row["logistic"] = {
                "measured": {str(k): list(t) for k, t in measured.items()},
                "lbfgs_fits": {str(k): fits(k) for k in (*perms, default.n_perm)},
                "per_fit_wall_s": per_fit[0],
                "per_fit_cpu_s": per_fit[1],
                "wall_s": per_fit[0] * fits(default.n_perm),
                "cpu_s": per_fit[1] * fits(default.n_perm),
            }
        out[target.name] = row
        print(json.dumps({target.name: row}), file=sys.stderr, flush=True)
    return out


def time_probes(run: Path, targets: str, n_jobs: int) -> dict:
    command = [sys.executable, __file__, "--probe-child", "--run", str(run)]
    command += ["--targets", targets, "--n-jobs", str(n_jobs)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"probe stage failed on {run}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report_units(args, report: dict, shape) -> None:
    """Print per-target unit costs and the whole stage they add up to."""
    units = unit_costs(args.run, args.unit_layer, (1, 4), args.logistic)
    report["unit_costs"] = units
    fits = (shape[1] + 1) * shape[3]  # each layer plus the surface baseline, per position
    print(
        f"one probe at layer {args.unit_layer}, last_prompt (default settings, one process; "
        "logistic permutations timed at 1 and 4, linear to 200):"
    )
    for name, row in units.items():
        extra = (
            f"  (logistic instead: {row['logistic']['cpu_s']:.1f} s CPU, "
            f"{row['logistic']['per_fit_cpu_s']:.3f} s per lbfgs fit)"
            if "logistic" in row
            else ""
        )
        print(
            f"  {name:28s} {row['kind']:10s} {row['wall_s']:8.1f} s wall {row['cpu_s']:8.1f} s CPU{extra}"
        )
    total = {k: fits * sum(r[k] for r in units.values()) for k in ("wall_s", "cpu_s")}
    ridge = {
        k: fits * sum(r[k] for r in units.values() if r["kind"] == "continuous")
        for k in ("wall_s", "cpu_s")
    }
    report["stage_estimate"] = {"fits_per_target": fits, "all": total, "ridge_targets_only": ridge}
    print(
        f"stage estimate ({fits} probes per target: {shape[1]} layers + surface, x {shape[3]} "
        f"positions): {total['wall_s'] / 60:.1f} min wall, {total['cpu_s'] / 60:.1f} min CPU; "
        f"the ridge targets alone {ridge['wall_s'] / 60:.1f} min wall, {ridge['cpu_s'] / 60:.1f} min CPU"
    )
    report["load_average_end"] = os.getloadavg()
    print(
        f"torch threads {report['torch_threads']}, OMP_NUM_THREADS={report['omp_num_threads']}, "
        f"load average {report['load_average'][0]:.1f} at start, {report['load_average_end'][0]:.1f} at end"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "bench-smollm2-probe")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="Keep a finished capture in --run.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--unit-costs",
        action="store_true",
        help="Instead of the whole stage: time one probe per target at one layer and extrapolate.",
    )
    parser.add_argument("--unit-layer", type=int, default=15)
    parser.add_argument(
        "--logistic",
        action="store_true",
        help="With --unit-costs: also time the logistic class probe (extrapolated to 200 "
        "permutations from 1 and 4).",
    )
    parser.add_argument(
        "--targets",
        choices=("default", "all"),
        default="default",
        help="The stage's default targets (four) or all seven.",
    )
    parser.add_argument(
        "--n-jobs", type=int, default=0, help="Probe worker processes (0: one per core)."
    )
    parser.add_argument("--probe-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_child:
        probe_child(args.run, args.targets, args.n_jobs)
        return
    import torch

    report: dict = {"run": str(args.run), "torch_threads": torch.get_num_threads()}
    report |= {
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average": os.getloadavg(),
    }
    manifest_path = args.run / "activations" / NAME / "manifest.json"
    if args.reuse and manifest_path.is_file():
        report["build"] = "reused"
    else:
        report["build"] = build_run(args.run, args.model or find_smollm2())
    manifest = json.loads(manifest_path.read_text())
    shape = (
        manifest["n_items"],
        manifest["n_layers"] + 1,
        manifest["d_model"],
        len(manifest["positions"]),
    )
    report["shape"] = dict(zip(("items", "layers", "d_model", "positions"), shape, strict=True))
    print(
        f"capture: {shape[0]} items x {shape[1]} layers x d{shape[2]} x {shape[3]} positions "
        f"({', '.join(manifest['positions'])}), entropy {manifest['entropy_method']}"
    )
    for step, t in report["build"].items() if isinstance(report["build"], dict) else ():
        print(f"  {step:10s} {t['wall_s']:8.1f} s wall {t['cpu_s']:8.1f} s CPU")
    if args.unit_costs:
        report_units(args, report, shape)
        return
    full = time_probes(args.run, args.targets, args.n_jobs)
    report["probe"] = full
    layers = shape[1]
    print(
        f"probe stage: {full['wall_s']:.1f} s wall ({full['wall_s'] / 60:.2f} min), "
        f"{full['cpu_s']:.1f} s CPU, peak RSS {full['peak_rss_mb']:.0f} MB, {full['rows']} rows, "
        f"targets {', '.join(full['targets'])}"
    )
    print(
        f"  per activation layer: {full['wall_s'] / layers:.1f} s wall, {full['cpu_s'] / layers:.1f} s CPU "
        f"(target: whole stage <= 600 s)"
    )
    if not args.skip_baseline:
        small = time_probes(one_block_copy(args.run), args.targets, args.n_jobs)
        report["baseline_1block"] = small
        extrapolated = {k: small[k] / 2 * layers for k in ("wall_s", "cpu_s")}
        report["baseline_extrapolated"] = extrapolated
        print(
            f"baseline, same stage on 2 of {layers} layers: {small['wall_s']:.1f} s wall, "
            f"{small['cpu_s']:.1f} s CPU; extrapolated to {layers}: {extrapolated['wall_s']:.1f} s wall"
        )
        print(
            f"  ratio full / extrapolated: {full['wall_s'] / extrapolated['wall_s']:.2f} wall, "
            f"{full['cpu_s'] / extrapolated['cpu_s']:.2f} CPU"
        )
    report["load_average_end"] = os.getloadavg()
    print(
        f"torch threads {report['torch_threads']}, OMP_NUM_THREADS={report['omp_num_threads']}, "
        f"load average {report['load_average'][0]:.1f} at start, {report['load_average_end'][0]:.1f} at end"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
