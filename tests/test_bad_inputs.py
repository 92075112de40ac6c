"""Bad inputs across every command: each is exit 2, exactly one `error:` line on stderr naming the
file, row/line or field, no traceback, and nothing in the workspace changed (listing and bytes).

Every case is refused before any model is loaded or any work starts, so the module needs no real
model (a placeholder folder with a config.json stands in) and runs in seconds.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mimicry.data.errors import InputError
from mimicry.data.fileio import (
    OWNED_NAME,
    RUN_MARKER,
    WRITTEN_NAME,
    atomic_dir,
    check_out_dir,
    check_out_file,
    is_recorded_output,
    record_output,
)
from mimicry.data.lock import LOCK_NAME, owner_tag, run_lock
from mimicry.experiments.cli import run

ITEMS = (
    "item_id,task,prompt,answer,human_rt_ms,human_acc,n_humans,group\n"
    "a1,t,What is 1+1?,2,900,0.9,10,g1\n"
    "a2,t,What is 2+2?,4,1100,0.8,10,g2\n"
    "a3,t,What is 3+3?,6,1300,0.7,10,g3\n"
)
TRACE = {"item_id": "a1", "model": "m", "sample": 0, "reasoning": "one plus one", "answer": "2"}


SFT_ROW = {"item_id": "a1", "prompt": "What is 1+1?", "completion": "<think>one plus one</think> 2"}


def make_workspace(w: Path) -> None:
    """Valid inputs next to the things a command must never touch."""
    (w / "items.csv").write_text(ITEMS)
    (w / "traces.jsonl").write_text(json.dumps(TRACE) + "\n")
    (w / "train.jsonl").write_text(json.dumps(SFT_ROW) + "\n")
    (w / "note.txt").write_text("a user's file\n")
    user = w / "user"
    user.mkdir()
    (user / "keep.txt").write_text("a user's folder\n")
    model = w / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}')
    (model / "tokenizer.json").write_text("{}")
    (w / "notmodel").mkdir()
    (w / "notmodel" / "readme.md").write_text("not a model\n")
    (w / "badcfg").mkdir()
    (w / "badcfg" / "config.json").write_text("{not json")
    runs = w / "run"
    runs.mkdir()
    (runs / RUN_MARKER).touch()
    (runs / "items.csv").write_text(ITEMS)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for folders)."""
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        found[key] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    return found


def _nonutf8_config(w: Path) -> None:
    (w / "c.yaml").write_bytes(b"name: ok\nseed: 1\n# caf\xe9\n")


def _config(text: str) -> Callable[[Path], None]:
    def write(w: Path) -> None:
        (w / "c.yaml").write_text(text)

    return write


def _report_config(w: Path) -> None:
    (w / "run" / "config.yaml").write_text("name: [unclosed\n")


def _report_nonutf8(w: Path) -> None:
    (w / "run" / "probes").mkdir()
    (w / "run" / "probes" / "probes.csv").write_bytes(b"model,layer\nm,1\n\xff\xfe,2\n")


def _report_corrupt(w: Path) -> None:
    (w / "run" / "probes").mkdir()
    (w / "run" / "probes" / "probes.csv").write_text('model,layer\nm,1,2,3\n"unterminated\n')


def _nonutf8_items(w: Path) -> None:
    (w / "bad.csv").write_bytes(ITEMS.encode() + b"a4,t,caf\xe9,1,1,1,1,g\n")


def _gguf_header(w: Path) -> None:
    (w / "t.gguf").write_bytes(b"GGUF\x03\x00\x00\x00")


def _trace_line(**raw: str) -> str:
    """One trace line with the given fields as raw JSON text (1e30, Infinity, ...)."""
    fields = {
        "item_id": '"a1"',
        "model": '"m"',
        "sample": "0",
        "reasoning": '"one plus one"',
        "answer": '"2"',
        "correct": "true",
        "n_reasoning_tokens": "3",
        **raw,
    }
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}\n"


def _traces(**raw: str) -> Callable[[Path], None]:
    """bad.jsonl: a good line, then one with `raw` fields (line 2)."""

    def write(w: Path) -> None:
        (w / "bad.jsonl").write_text(_trace_line() + _trace_line(**{"item_id": '"a2"', **raw}))

    return write


def _items_rows(*rows: str) -> Callable[[Path], None]:
    def write(w: Path) -> None:
        (w / "bad.csv").write_text(ITEMS.splitlines()[0] + "\n" + "".join(rows))

    return write


# Row 2 holds a quoted field over two lines, so file lines and rows differ; row 3 is too long.
_OVERSIZED = _items_rows(
    "a1,t,What is 1+1?,2,900,0.9,10,g1\n",
    'a2,t,"What is\n2+2?",4,1100,0.8,10,g2\n',
    "a3,t," + "x" * 200_000 + ",6,1300,0.7,10,g3\n",
)


def _effort_bad_trace(w: Path) -> None:
    (w / "run" / "traces").mkdir()
    (w / "run" / "traces" / "m.jsonl").write_text(_trace_line() + "{not json\n")


def _users_item_table(w: Path) -> None:
    (w / "mine.csv").write_text(ITEMS)


def _cuda_only_without_gpu():
    import torch

    return pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")


NO_GPU = _cuda_only_without_gpu()

# (id, argv with {w} for the workspace, text the error line must contain, optional setup)
CASES: list = [
    # data
    ("data-out-is-folder", "data export gen:syllogistic:3 --out {w}/user", "user", None),
    ("data-out-suffix", "data export gen:syllogistic:3 --out {w}/out.txt", "out.txt", None),
    ("data-gen-not-number", "data export gen:syllogistic:x --out {w}/o.csv", "field 'tasks'", None),
    ("data-gen-zero", "data export gen:syllogistic:0 --out {w}/o.csv", "field 'tasks'", None),
    ("data-gen-family", "data export gen:nofamily:3 --out {w}/o.csv", "field 'family'", None),
    (
        "data-premise-range",
        "data export gen:syllogistic:3:a-b --out {w}/o.csv",
        "field 'tasks'",
        None,
    ),
    (
        "data-exclusions-folder",
        "data export gen:syllogistic:3 --out {w}/o.csv --exclusions {w}/user",
        "field 'exclusions'",
        None,
    ),
    (
        "data-out-under-file",
        "data export gen:syllogistic:3 --out {w}/note.txt/o.csv",
        "note.txt",
        None,
    ),
    ("data-unknown-task", "data export no_such_task --out {w}/o.csv", "no_such_task", None),
    ("data-out-is-input", "data export {w}/items.csv --out {w}/items.csv", "items.csv", None),
    ("data-validate-missing", "data validate {w}/nope.csv", "nope.csv", None),
    ("data-validate-nonutf8", "data validate {w}/bad.csv", "bad.csv", _nonutf8_items),
    # behaviour
    (
        "behaviour-out-is-items-file",
        "behaviour --items {w}/items.csv --traces {w}/traces.jsonl --out {w}/items.csv",
        "items.csv",
        None,
    ),
    (
        "behaviour-out-user-folder",
        "behaviour --items {w}/items.csv --traces {w}/traces.jsonl --out {w}/user",
        "user",
        None,
    ),
    (
        "behaviour-n-boot",
        "behaviour --items {w}/items.csv --traces {w}/traces.jsonl --out {w}/o --n-boot -1",
        "field 'n_boot'",
        None,
    ),
    (
        "behaviour-n-perm",
        "behaviour --items {w}/items.csv --traces {w}/traces.jsonl --out {w}/o --n-perm 0",
        "field 'n_perm'",
        None,
    ),
    (
        "behaviour-min-items",
        "behaviour --items {w}/items.csv --traces {w}/traces.jsonl --out {w}/o --min-items 0",
        "field 'min_items'",
        None,
    ),
    (
        "behaviour-tokenizer-missing",
        "behaviour --items {w}/items.csv --traces {w}/traces.jsonl "
        "--out {w}/o --tokenizer /nonexistent/tok",
        "field 'tokenizer'",
        None,
    ),
    (
        "behaviour-tokenizer-not-tokenizer",
        "behaviour --items {w}/items.csv --traces "
        "{w}/traces.jsonl --out {w}/o --tokenizer {w}/notmodel",
        "notmodel",
        None,
    ),
    (
        "behaviour-items-missing",
        "behaviour --items {w}/nope.csv --traces {w}/traces.jsonl --out {w}/o",
        "nope.csv",
        None,
    ),
    # generate
    (
        "generate-model-absolute",
        "generate --model /nonexistent/m --items {w}/items.csv --out {w}/t.jsonl",
        "/nonexistent/m",
        None,
    ),
    (
        "generate-model-relative",
        "generate --model ./nonexistent-m --items {w}/items.csv --out {w}/t.jsonl",
        "nonexistent-m",
        None,
    ),
    (
        "generate-model-home",
        "generate --model ~/nonexistent-mimicry-m --items {w}/items.csv --out {w}/t.jsonl",
        "nonexistent-mimicry-m",
        None,
    ),
    (
        "generate-not-a-model",
        "generate --model {w}/notmodel --items {w}/items.csv --out {w}/t.jsonl",
        "no config.json",
        None,
    ),
    (
        "generate-corrupt-config",
        "generate --model {w}/badcfg --items {w}/items.csv --out {w}/t.jsonl",
        "config.json",
        None,
    ),
    (
        "generate-model-a-file",
        "generate --model {w}/note.txt --items {w}/items.csv --out {w}/t.jsonl",
        "note.txt",
        None,
    ),
    (
        "generate-bad-hub-name",
        "generate --model bad:name --items {w}/items.csv --out {w}/t.jsonl",
        "field 'model'",
        None,
    ),
    pytest.param(
        "generate-cuda-no-gpu",
        "generate --model {w}/model --items {w}/items.csv --out {w}/t.jsonl --device cuda",
        "field 'device'",
        None,
        marks=NO_GPU,
    ),
    (
        "generate-samples",
        "generate --model {w}/model --items {w}/items.csv --out {w}/t.jsonl --samples 0",
        "field 'samples'",
        None,
    ),
    (
        "generate-max-new-tokens",
        "generate --model {w}/model --items {w}/items.csv --out {w}/t.jsonl --max-new-tokens 0",
        "field 'max_new_tokens'",
        None,
    ),
    (
        "generate-temperature-nan",
        "generate --model {w}/model --items {w}/items.csv --out {w}/t.jsonl --temperature nan",
        "field 'temperature'",
        None,
    ),
    (
        "generate-batch-size",
        "generate --model {w}/model --items {w}/items.csv --out {w}/t.jsonl --batch-size -1",
        "field 'batch_size'",
        None,
    ),
    (
        "generate-out-folder",
        "generate --model {w}/model --items {w}/items.csv --out {w}/user",
        "user",
        None,
    ),
    (
        "generate-out-is-items-file",
        "generate --model {w}/model --items {w}/items.csv --out {w}/items.csv",
        "items.csv",
        None,
    ),
    (
        "generate-out-users-file",
        "generate --model {w}/model --items {w}/items.csv --out {w}/note.txt",
        "note.txt",
        None,
    ),
    (  # a user's own trace file, not written by the suite: never replaced
        "generate-out-users-trace-file",
        "generate --model {w}/model --items {w}/items.csv --out {w}/traces.jsonl",
        "traces.jsonl",
        None,
    ),
    (
        "generate-items-missing",
        "generate --model {w}/model --items {w}/nope.csv --out {w}/t.jsonl",
        "nope.csv",
        None,
    ),
    # ablate
    (
        "ablate-tokenizer-missing",
        "ablate {w}/traces.jsonl --out {w}/sets --tokenizer /nonexistent/tok",
        "field 'tokenizer'",
        None,
    ),
    (
        "ablate-tokenizer-not-tokenizer",
        "ablate {w}/traces.jsonl --out {w}/sets --tokenizer {w}/notmodel",
        "field 'tokenizer'",
        None,
    ),
    ("ablate-out-file", "ablate {w}/traces.jsonl --out {w}/note.txt", "note.txt", None),
    ("ablate-out-user-folder", "ablate {w}/traces.jsonl --out {w}/user", "user", None),
    (
        "ablate-target-length",
        "ablate {w}/traces.jsonl --out {w}/sets --target-length 0",
        "field 'target_length'",
        None,
    ),
    # distill
    (
        "distill-student-missing",
        "distill --student /nonexistent/m --data {w}/train.jsonl --out {w}/s",
        "field 'student'",
        None,
    ),
    (
        "distill-student-not-model",
        "distill --student {w}/notmodel --data {w}/train.jsonl --out {w}/s",
        "no config.json",
        None,
    ),
    (
        "distill-student-corrupt",
        "distill --student {w}/badcfg --data {w}/train.jsonl --out {w}/s",
        "config.json",
        None,
    ),
    (
        "distill-epochs",
        "distill --student {w}/model --data {w}/traces.jsonl --out {w}/s --epochs 0",
        "field 'epochs'",
        None,
    ),
    (
        "distill-learning-rate",
        "distill --student {w}/model --data {w}/traces.jsonl --out {w}/s --learning-rate -1",
        "field 'learning_rate'",
        None,
    ),
    (
        "distill-max-steps",
        "distill --student {w}/model --data {w}/traces.jsonl --out {w}/s --max-steps 0",
        "field 'max_steps'",
        None,
    ),
    (
        "distill-batch-size",
        "distill --student {w}/model --data {w}/traces.jsonl --out {w}/s --batch-size 0",
        "field 'batch_size'",
        None,
    ),
    (
        "distill-data-missing",
        "distill --student {w}/model --data {w}/nope --out {w}/s",
        "nope",
        None,
    ),
    (
        "distill-out-file",
        "distill --student {w}/model --data {w}/traces.jsonl --out {w}/note.txt",
        "note.txt",
        None,
    ),
    (
        "distill-out-user-folder",
        "distill --student {w}/model --data {w}/traces.jsonl --out {w}/user",
        "user",
        None,
    ),
    # lexicon
    (
        "lexicon-out-file",
        "lexicon {w}/traces.jsonl --items {w}/items.csv --out {w}/items.csv",
        "items.csv",
        None,
    ),
    (
        "lexicon-bins",
        "lexicon {w}/traces.jsonl --items {w}/items.csv --out {w}/lex --bins 0",
        "field 'bins'",
        None,
    ),
    # capture
    (
        "capture-shard-size",
        "capture --model {w}/model --items {w}/items.csv --out {w}/run --shard-size 0",
        "field 'shard_size'",
        None,
    ),
    (
        "capture-max-tokens",
        "capture --model {w}/model --items {w}/items.csv --out {w}/run --max-tokens 0",
        "field 'max_tokens'",
        None,
    ),
    (
        "capture-batch-size",
        "capture --model {w}/model --items {w}/items.csv --out {w}/run --batch-size -1",
        "batch_size",
        None,
    ),
    (
        "capture-model-missing",
        "capture --model /nonexistent/m --items {w}/items.csv --out {w}/run",
        "/nonexistent/m",
        None,
    ),
    (
        "capture-model-corrupt",
        "capture --model {w}/badcfg --items {w}/items.csv --out {w}/run",
        "config.json",
        None,
    ),
    pytest.param(
        "capture-cuda-no-gpu",
        "capture --model {w}/model --items {w}/items.csv --out {w}/run --device cuda",
        "field 'device'",
        None,
        marks=NO_GPU,
    ),
    (
        "capture-out-file",
        "capture --model {w}/model --items {w}/items.csv --out {w}/note.txt",
        "note.txt",
        None,
    ),
    (
        "capture-items-missing",
        "capture --model {w}/model --items {w}/nope.csv --out {w}/run",
        "nope.csv",
        None,
    ),
    # probe
    ("probe-run-missing", "probe {w}/nope", "nope", None),
    ("probe-n-boot", "probe {w}/run --n-boot -1", "field 'n_boot'", None),
    ("probe-n-perm", "probe {w}/run --n-perm 0", "field 'n_perm'", None),
    ("probe-folds", "probe {w}/run --folds 1", "field 'folds'", None),
    ("probe-alphas-nan", "probe {w}/run --alphas nan,1", "field 'alphas'", None),
    ("probe-alphas-text", "probe {w}/run --alphas 1,,x", "field 'alphas'", None),
    ("probe-cs-negative", "probe {w}/run --cs -1", "field 'cs'", None),
    (
        "probe-random-init",
        "probe {w}/run --random-init-baseline yes",
        "field 'random-init-baseline'",
        None,
    ),
    # steer
    (
        "steer-alpha-nan-inf",
        "steer --model {w}/model --run {w}/run --layer 1 --alphas nan,inf",
        "field 'alphas'",
        None,
    ),
    (
        "steer-alpha-empty-and-text",
        "steer --model {w}/model --run {w}/run --layer 1 --alphas 1,,x",
        "field 'alphas'",
        None,
    ),
    (
        "steer-alpha-text",
        "steer --model {w}/model --run {w}/run --layer 1 --alphas 1,x",
        "field 'alphas'",
        None,
    ),
    (
        "steer-limit",
        "steer --model {w}/model --run {w}/run --layer 1 --n-items -2",
        "field 'n_items'",
        None,
    ),
    (
        "steer-n-boot",
        "steer --model {w}/model --run {w}/run --layer 1 --n-boot -1",
        "field 'n_boot'",
        None,
    ),
    (
        "steer-max-new-tokens",
        "steer --model {w}/model --run {w}/run --layer 1 --max-new-tokens 0",
        "field 'max_new_tokens'",
        None,
    ),
    ("steer-layer", "steer --model {w}/model --run {w}/run --layer 0", "field 'layer'", None),
    (
        "steer-model-missing",
        "steer --model /nonexistent/m --run {w}/run --layer 1",
        "/nonexistent/m",
        None,
    ),
    (
        "steer-model-not-model",
        "steer --model {w}/notmodel --run {w}/run --layer 1",
        "no config.json",
        None,
    ),
    ("steer-run-missing", "steer --model {w}/model --run {w}/nope --layer 1", "nope", None),
    (
        "steer-out-folder",
        "steer --model {w}/model --run {w}/run --layer 1 --out {w}/user",
        "user",
        None,
    ),
    (
        "steer-out-users-file",
        "steer --model {w}/model --run {w}/run --layer 1 --out {w}/items.csv",
        "items.csv",
        None,
    ),
    # run / demo config
    ("run-config-missing", "run {w}/nope.yaml --out {w}/r", "nope.yaml", None),
    ("run-config-nonutf8", "run {w}/c.yaml --out {w}/r", "row 3", _nonutf8_config),
    (
        "run-config-name-escapes",
        "run {w}/c.yaml --out {w}/r",
        "field 'name'",
        _config("name: ../../x\n"),
    ),
    ("run-config-name-slash", "run {w}/c.yaml", "field 'name'", _config("name: a/b\n")),
    (
        "run-config-duplicate-key",
        "run {w}/c.yaml --out {w}/r",
        "row 3: field 'seed'",
        _config("name: a\nseed: 1\nseed: 2\n"),
    ),
    (
        "run-config-duplicate-nested",
        "run {w}/c.yaml --out {w}/r",
        "field 'n_boot'",
        _config("name: a\nsteer:\n  n_boot: 10\n  n_boot: 20\n"),
    ),
    (
        "run-config-steer-model",
        "run {w}/c.yaml --out {w}/r",
        "field 'steer.model'",
        _config("name: a\nsteer:\n  model: nobody\n"),
    ),
    (
        "run-config-alphas-nan",
        "run {w}/c.yaml --out {w}/r",
        "field 'steer.alphas'",
        _config("name: a\nsteer:\n  alphas: [.nan]\n"),
    ),
    (
        "run-config-alphas-inf",
        "run {w}/c.yaml --out {w}/r",
        "field 'steer.alphas'",
        _config("name: a\nsteer:\n  alphas: [1, .inf]\n"),
    ),
    (
        "run-config-items-file-missing",
        "run {w}/c.yaml --out {w}/r",
        "field 'tasks.items_file'",
        _config("name: a\ntasks:\n  items_file: missing.csv\n"),
    ),
    ("run-config-bad-yaml", "run {w}/c.yaml --out {w}/r", "c.yaml", _config("name: [a\n")),
    (
        "run-config-unknown-key",
        "run {w}/c.yaml --out {w}/r",
        "field",
        _config("name: a\nbogus: 1\n"),
    ),
    ("run-out-is-file", "run {w}/c.yaml --out {w}/note.txt", "note.txt", _config("name: a\n")),
    ("run-out-user-folder", "run {w}/c.yaml --out {w}/user", "user", _config("name: a\n")),
    (
        "run-only-unknown",
        "run {w}/c.yaml --out {w}/r --only nostage",
        "field 'only'",
        _config("name: a\n"),
    ),
    ("demo-out-is-file", "demo --out {w}/note.txt", "note.txt", None),
    ("demo-out-user-folder", "demo --out {w}/user", "user", None),
    # report
    ("report-run-missing", "report {w}/nope", "nope", None),
    ("report-broken-config", "report {w}/run", "config.yaml", _report_config),
    ("report-nonutf8-csv", "report {w}/run", "probes.csv", _report_nonutf8),
    ("report-corrupt-csv", "report {w}/run", "probes.csv", _report_corrupt),
    # models import-gguf
    ("gguf-missing", "models import-gguf {w}/nope.gguf --out {w}/g", "nope.gguf", None),
    ("gguf-not-gguf", "models import-gguf {w}/note.txt --out {w}/g", "note.txt", None),
    ("gguf-out-user-folder", "models import-gguf {w}/t.gguf --out {w}/user", "user", _gguf_header),
    # organism eval
    ("organism-eval-not-model", "organism eval {w}/notmodel", "no config.json", None),
    ("organism-eval-corrupt", "organism eval {w}/badcfg", "config.json", None),
    ("organism-eval-n", "organism eval {w}/model --n 0", "field 'n'", None),
    ("organism-eval-out-folder", "organism eval {w}/model --out {w}/user", "user", None),
    # effort
    ("effort-run-missing", "effort {w}/nope", "nope", None),
    # traces: token counts and samples
    (
        "traces-tokens-1e30",
        "behaviour --items {w}/items.csv --traces {w}/bad.jsonl --out {w}/o",
        "bad.jsonl: row 2: field 'n_reasoning_tokens'",
        _traces(n_reasoning_tokens="1e30"),
    ),
    (
        "traces-tokens-huge-int",
        "behaviour --items {w}/items.csv --traces {w}/bad.jsonl --out {w}/o",
        "bad.jsonl: row 2: field 'n_reasoning_tokens'",
        _traces(n_reasoning_tokens="1" + "0" * 30),
    ),
    (
        "traces-tokens-infinity",
        "behaviour --items {w}/items.csv --traces {w}/bad.jsonl --out {w}/o",
        "bad.jsonl: row 2: field 'n_reasoning_tokens'",
        _traces(n_reasoning_tokens="Infinity"),
    ),
    (
        "traces-tokens-overflowing-float",
        "behaviour --items {w}/items.csv --traces {w}/bad.jsonl --out {w}/o",
        "bad.jsonl: row 2: field 'n_reasoning_tokens'",
        _traces(n_reasoning_tokens="1e400"),
    ),
    (
        "traces-tokens-nan",
        "behaviour --items {w}/items.csv --traces {w}/bad.jsonl --out {w}/o",
        "bad.jsonl: row 2: field 'n_reasoning_tokens'",
        _traces(n_reasoning_tokens="NaN"),
    ),
    (
        "traces-tokens-negative",
        "behaviour --items {w}/items.csv --traces {w}/bad.jsonl --out {w}/o",
        "bad.jsonl: row 2: field 'n_reasoning_tokens'",
        _traces(n_reasoning_tokens="-1"),
    ),
    (
        "traces-tokens-fraction",
        "behaviour --items {w}/items.csv --traces {w}/bad.jsonl --out {w}/o",
        "bad.jsonl: row 2: field 'n_reasoning_tokens'",
        _traces(n_reasoning_tokens="1.5"),
    ),
    (
        "traces-tokens-text",
        "behaviour --items {w}/items.csv --traces {w}/bad.jsonl --out {w}/o",
        "bad.jsonl: row 2: field 'n_reasoning_tokens'",
        _traces(n_reasoning_tokens='"12"'),
    ),
    (
        "traces-sample-1e30",
        "behaviour --items {w}/items.csv --traces {w}/bad.jsonl --out {w}/o",
        "bad.jsonl: row 2: field 'sample'",
        _traces(sample="1e30"),
    ),
    (
        "traces-item-id-spaces-duplicate",
        "behaviour --items {w}/items.csv --traces {w}/bad.jsonl --out {w}/o",
        "bad.jsonl: row 2: field 'sample'",
        _traces(item_id='" a1 "'),
    ),
    # item tables
    (
        "items-id-trailing-space-duplicate",
        "data validate {w}/bad.csv",
        "bad.csv: row 2: field 'item_id'",
        _items_rows("a1,t,What is 1+1?,2,900,0.9,10,g1\n", "a1 ,t,What is 2+2?,4,1100,0.8,10,g2\n"),
    ),
    (
        "items-oversized-field",
        "data validate {w}/bad.csv",
        "bad.csv: row 3: a field is longer than 131,072 characters",
        _OVERSIZED,
    ),
    # outputs a command did not write
    (
        "data-out-users-table",
        "data export gen:syllogistic:3 --out {w}/mine.csv",
        "mine.csv: field 'out': exists and was not written by this command",
        _users_item_table,
    ),
    (
        "data-exclusions-users-file",
        "data export gen:syllogistic:3 --out {w}/o.csv --exclusions {w}/mine.csv",
        "field 'exclusions'",
        _users_item_table,
    ),
    (
        "organism-eval-out-users-file",
        "organism eval {w}/model --out {w}/mine.csv",
        "mine.csv: field 'out'",
        _users_item_table,
    ),
    ("organism-train-out-user-folder", "organism train --out {w}/user --quick", "user", None),
    (
        "organism-train-checkpoints-user-folder",
        "organism train --out {w}/o --checkpoints {w}/user --quick",
        "field 'checkpoints'",
        None,
    ),
    # effort
    ("effort-folds", "effort {w}/run --folds 1", "field 'folds'", None),
    ("effort-n-boot", "effort {w}/run --n-boot -1", "field 'n_boot'", None),
    ("effort-batch-size", "effort {w}/run --batch-size 0", "field 'batch_size'", None),
    ("effort-fractions-nan", "effort {w}/run --fractions 0.5,nan", "field 'fractions'", None),
    ("effort-fractions-range", "effort {w}/run --fractions 0,1.5", "field 'fractions'", None),
    ("effort-fractions-empty", "effort {w}/run --fractions 0,,1", "field 'fractions'", None),
    ("effort-every", "effort {w}/run --every -1", "field 'every'", None),
    ("effort-bad-trace-line", "effort {w}/run", "m.jsonl: row 2", _effort_bad_trace),
]


def _case_id(case) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]


def test_at_least_sixty_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize(
    ("name", "argv", "expect", "setup"), CASES, ids=[_case_id(c) for c in CASES]
)
def test_bad_input_is_one_line_and_changes_nothing(
    name, argv, expect, setup, tmp_path, capsys, monkeypatch
):
    w = tmp_path / "w"
    w.mkdir()
    make_workspace(w)
    if setup is not None:
        setup(w)
    monkeypatch.chdir(w)  # a default runs/<name> would land here, and be seen
    before = snapshot(w)
    capsys.readouterr()
    code = run(argv.format(w=w).split())
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (name, err)
    assert len(lines) == 1, (name, err)
    assert lines[0].startswith("error:"), (name, err)
    assert "Traceback" not in err
    assert expect in lines[0], (name, lines[0])
    assert snapshot(w) == before, name


# --- outputs the suite did not write are never replaced ----------------------------------------


def test_atomic_dir_refuses_a_users_file_and_folder(tmp_path):
    target = tmp_path / "x.csv"
    target.write_text("mine\n")
    with pytest.raises(InputError, match="x.csv"), atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    assert target.read_text() == "mine\n"
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "keep").write_text("mine")
    with pytest.raises(InputError), atomic_dir(folder) as tmp:
        (tmp / "a").write_text("1")
    assert sorted(p.name for p in folder.iterdir()) == ["keep"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "x.csv"]


def test_atomic_dir_replaces_its_own_output(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "a").write_text("1")
    assert (out / OWNED_NAME).is_file()
    check_out_dir(out)  # its own output is accepted again
    with atomic_dir(out) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [OWNED_NAME, "b"]


# --- one writer per run folder -----------------------------------------------------------------


def test_a_live_lock_refuses_a_second_writer(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / RUN_MARKER).touch()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = {"pid": other.pid, "host": socket.gethostname()}
        (run_dir / LOCK_NAME).write_text(json.dumps(lock))
        with pytest.raises(InputError, match="in use by process"), run_lock(run_dir):
            pass
        config = tmp_path / "c.yaml"
        config.write_text("name: a\n")
        capsys.readouterr()
        assert run(["run", str(config), "--out", str(run_dir)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and "in use" in err[0]
        assert not (run_dir / "config.yaml").exists()
        assert json.loads((run_dir / LOCK_NAME).read_text()) == lock
        model = tmp_path / "model"
        model.mkdir()
        (model / "config.json").write_text('{"model_type": "llama"}')
        items = tmp_path / "items.csv"
        items.write_text(ITEMS)
        traces_out = run_dir / "traces" / "teacher.jsonl"
        student = run_dir / "students" / "original"
        stage_commands = [
            ["capture", "--model", str(model), "--items", str(items), "--out", str(run_dir)],
            ["probe", str(run_dir)],
            ["steer", "--model", str(model), "--run", str(run_dir), "--layer", "1"],
            ["report", str(run_dir)],
            ["demo", "--out", str(run_dir)],
            ["effort", str(run_dir)],
            [
                "behaviour",
                "--items",
                str(items),
                "--traces",
                str(items),
                "--out",
                str(run_dir / "behaviour"),
            ],
            ["generate", "--model", str(model), "--items", str(items), "--out", str(traces_out)],
            ["ablate", str(items), "--out", str(run_dir / "ablations")],
            ["lexicon", str(items), "--items", str(items), "--out", str(run_dir / "lexicon")],
            ["distill", "--student", str(model), "--data", str(items), "--out", str(student)],
        ]
        for argv in stage_commands:
            assert run(argv) == 2, argv
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and "in use by process" in err[0], (argv, err)
        assert sorted(p.name for p in run_dir.iterdir()) == sorted([LOCK_NAME, RUN_MARKER])
    finally:
        other.kill()
        other.wait()


def test_a_dead_writers_lock_is_taken_over_and_released(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    host = owner_tag().split("@")[1]
    left = [  # what a locker killed mid-way leaves: its temporary and a lock it was taking over
        run_dir / f"{LOCK_NAME}.tmp-{dead.pid}@{host}-x1y2z3",
        run_dir / f"{LOCK_NAME}.old-{dead.pid}@{host}",
    ]
    for path in left:
        path.write_text("{}")
    with run_lock(run_dir) as lock:
        assert not any(path.exists() for path in left)
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with run_lock(run_dir):  # re-entrant in one process
            pass
        assert lock.exists()
    assert not (run_dir / LOCK_NAME).exists()


def test_a_refused_lock_on_a_new_folder_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), run_lock(tmp_path / "new"):
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


# --- files a command wrote may be replaced by it; anything else is refused ---------------------


def test_export_replaces_its_own_table_but_not_an_edited_one(tmp_path, capsys):
    out = tmp_path / "items.csv"
    assert run(["data", "export", "gen:syllogistic:3", "--out", str(out)]) == 0
    first = out.read_bytes()
    assert (tmp_path / WRITTEN_NAME).is_file()
    assert run(["data", "export", "gen:syllogistic:4", "--out", str(out), "--seed", "1"]) == 0
    assert out.read_bytes() != first  # its own earlier output: replaced
    edited = out.read_bytes() + b"a user's edit\n"
    out.write_bytes(edited)
    capsys.readouterr()
    assert run(["data", "export", "gen:syllogistic:3", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was not written by this command" in err[0]
    assert out.read_bytes() == edited


def test_a_recorded_output_is_recognised_only_while_unchanged(tmp_path):
    path = tmp_path / "summary.csv"
    path.write_text("task,n\nall,3\n")
    assert not is_recorded_output(path)
    with pytest.raises(InputError, match="not written by this command"):
        check_out_file(path)
    record_output(path)
    assert is_recorded_output(path)
    check_out_file(path)  # accepted: the suite wrote it
    path.write_text("task,n\nall,4\n")  # same size, other content
    assert not is_recorded_output(path)
    other = tmp_path / "other.csv"
    other.write_text("x\n")
    record_output(other)
    path.unlink()
    record_output(other)  # entries for files that are gone are dropped
    assert json.loads((tmp_path / WRITTEN_NAME).read_text()).keys() == {"other.csv"}
    # The ledger vouches for its files only: the folder holding it stays the user's.
    with pytest.raises(InputError, match="did not write"):
        check_out_dir(tmp_path)


# --- item ids are compared without surrounding spaces ------------------------------------------


def test_item_ids_lose_surrounding_spaces_in_items_and_traces(tmp_path):
    from mimicry.data.items import read_items
    from mimicry.data.traces import read_traces

    items = tmp_path / "items.csv"
    items.write_text("item_id,task,prompt,answer\n a1 ,t,p,1\na2\t,t,q,2\n")
    table = read_items(items)
    assert table["item_id"].tolist() == ["a1", "a2"]
    traces = tmp_path / "t.jsonl"
    traces.write_text(_trace_line(item_id='"a1 "') + _trace_line(item_id='"a2"'))
    frame, _ = read_traces(traces, item_ids=table["item_id"])
    assert frame["item_id"].tolist() == ["a1", "a2"]


def test_token_counts_up_to_the_bound_are_read_exactly(tmp_path):
    from mimicry.data.traces import MAX_COUNT, read_traces

    traces = tmp_path / "t.jsonl"
    traces.write_text(_trace_line(n_reasoning_tokens=str(MAX_COUNT)) + _trace_line(sample="1"))
    frame, _ = read_traces(traces)
    assert frame["n_reasoning_tokens"].tolist() == [MAX_COUNT, 3]
    traces.write_text(_trace_line(n_reasoning_tokens=str(MAX_COUNT + 1)))
    with pytest.raises(InputError, match="row 1: field 'n_reasoning_tokens'"):
        read_traces(traces)


def test_the_shipped_organism_folder_is_the_suites_own():
    """`mimicry organism train --out distill/organism/weights` (the README's retraining command)
    passes the output check: the shipped weights carry the suite's marker."""
    weights = Path(__file__).parent.parent / "distill" / "organism" / "weights"
    assert (weights / OWNED_NAME).is_file()
    assert check_out_dir(weights) == weights
