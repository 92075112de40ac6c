"""Run the mimicry CLI with one write patched to stop part-way and SIGKILL its own process.

    python tests/kill_inside.py WHAT N [ROWS] -- <mimicry arguments>

WHAT names the write that is cut, N which call of it (1-based):
  save_file     a safetensors `save_file` (torch or numpy): the file is written, cut to half its
                bytes, then the process is killed (a kill while the bytes were going out).
  stream        `write_concatenated` (a capture's final position file): killed after its first
                piece, with the header and part of the data written.
  csv:NAME      a CSV writer (csv or pandas) on a file named NAME or a temporary of it: killed
                after ROWS rows, flushed, so the file holds a partial table.

Used by tests/test_kill_resume.py: the real command runs in a subprocess, so the kill is a real
SIGKILL (no exception handler, no `finally`) at a known point inside a write.
"""

from __future__ import annotations

import csv
import os
import signal
import sys
from pathlib import Path


def _die(handle=None) -> None:
    if handle is not None:
        handle.flush()
        os.fsync(handle.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


def _counter(n: int):
    calls = {"n": 0}

    def due() -> bool:
        calls["n"] += 1
        return calls["n"] == n

    return due


def patch_save_file(n: int) -> None:
    import safetensors.numpy
    import safetensors.torch

    due = _counter(n)
    for module in (safetensors.torch, safetensors.numpy):
        real = module.save_file

        def save_file(tensors, filename, metadata=None, _real=real):
            _real(tensors, filename, metadata=metadata)
            if due():
                path = Path(filename)
                data = path.read_bytes()
                with path.open("wb") as handle:
                    handle.write(data[: len(data) // 2])
                    _die(handle)

        module.save_file = save_file


def patch_stream(n: int) -> None:
    from mimicry.probes.capture import writer

    due = _counter(n)
    real = writer.write_concatenated

    def write_concatenated(path, name, pieces, *args, **kwargs):
        if not due():
            return real(path, name, pieces, *args, **kwargs)

        def cut(pieces=pieces):
            for number, piece in enumerate(pieces):
                if number == 1:
                    _die()
                yield piece

        return real(path, name, cut(), *args, **kwargs)

    # Every module that imported the name (the capture package imports its writer on import).
    for module in list(sys.modules.values()):
        if getattr(module, "write_concatenated", None) is real:
            module.write_concatenated = write_concatenated


def _matches(handle, name: str) -> bool:
    base = Path(str(getattr(handle, "name", ""))).name
    return base == name or base.startswith(f".{name}.tmp-")


def patch_csv(name: str, n: int, rows: int) -> None:
    due = _counter(n)
    real = csv.writer

    class Cutting:
        def __init__(self, handle, inner):
            self.handle, self.inner, self.written = handle, inner, 0

        def writerow(self, row):
            self.inner.writerow(row)
            self.written += 1
            if self.written >= rows:
                _die(self.handle)

        def writerows(self, many):
            for row in many:
                self.writerow(row)

        def __getattr__(self, attribute):
            return getattr(self.inner, attribute)

    def writer(handle, *args, **kwargs):
        inner = real(handle, *args, **kwargs)
        if _matches(handle, name) and due():
            return Cutting(handle, inner)
        return inner

    csv.writer = writer


def main(argv: list[str]) -> int:
    split = argv.index("--")
    spec, rest = argv[:split], argv[split + 1 :]
    what, n = spec[0], int(spec[1])
    threads = os.environ.get("MIMICRY_TEST_TORCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    # Patched before the CLI is imported, so modules that import these names see the patches.
    if what == "save_file":
        patch_save_file(n)
    elif what == "stream":
        patch_stream(n)
    elif what.startswith("csv:"):
        patch_csv(what.removeprefix("csv:"), n, int(spec[2]))
    else:
        raise SystemExit(f"unknown write {what!r}")
    from threadpoolctl import threadpool_limits

    from mimicry.experiments.cli import run

    with threadpool_limits(1):
        code = run(rest)
    print(f"finished without being killed (exit {code})", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
