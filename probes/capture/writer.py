"""Shards on disk while capturing, one streamed file per position at the end.

Each shard of items is saved as its own safetensors file as soon as it is done, inside a work
directory stamped with the hash of the inputs and options; a rerun with the same hash skips the
shards already there. The final `<position>.safetensors` files are written by streaming shard
bytes after a header, so memory does not grow with the number of items.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from mimicry.data.fileio import atomic_file, is_fresh, write_stamp

_SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
}


class ShardStore:
    """A work directory of finished shards, valid only for one inputs hash."""

    def __init__(self, directory: str | Path, inputs_hash: str) -> None:
        self.directory = Path(directory)
        self.inputs_hash = inputs_hash
        if self.directory.exists() and not is_fresh(self.directory, inputs_hash):
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        write_stamp(self.directory, inputs_hash, kind="capture-shards")

    def path(self, index: int) -> Path:
        return self.directory / f"shard-{index:05d}.safetensors"

    def done(self, index: int) -> bool:
        """Whether shard `index` was finished by an earlier (possibly interrupted) run."""
        return self.path(index).is_file()

    def write(self, index: int, tensors: dict[str, torch.Tensor], item_ids: Sequence[str]) -> None:
        """Save one finished shard atomically (a kill mid-write leaves no shard behind)."""
        contiguous = {name: t.contiguous() for name, t in tensors.items()}
        with atomic_file(self.path(index)) as tmp:
            save_file(contiguous, str(tmp), metadata={"item_ids": json.dumps(list(item_ids))})

    def item_ids(self, index: int) -> list[str]:
        with safe_open(str(self.path(index)), framework="pt") as handle:
            return json.loads(handle.metadata()["item_ids"])

    def tensor(self, index: int, key: str) -> torch.Tensor:
        """One tensor of one shard."""
        with safe_open(str(self.path(index)), framework="pt") as handle:
            return handle.get_tensor(key)

    def tensors(self, key: str, n_shards: int) -> Iterator[torch.Tensor]:
        """Yield tensor `key` of each shard in order, one shard in memory at a time."""
        for index in range(n_shards):
            with safe_open(str(self.path(index)), framework="pt") as handle:
                yield handle.get_tensor(key)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def write_concatenated(
    path: str | Path,
    name: str,
    pieces: Iterator[torch.Tensor],
    shape: Sequence[int],
    dtype: torch.dtype,
    metadata: dict[str, str] | None = None,
) -> None:
    """Write one safetensors file holding `name` = the pieces concatenated along dim 0.

    The header is written first from the known total shape, then each piece's bytes, so only
    one piece is in memory at a time. Readable by `safetensors.safe_open` / `load_file`.
    """
    itemsize = torch.empty((), dtype=dtype).element_size()
    total = itemsize
    for size in shape:
        total *= int(size)
    header = {
        name: {
            "dtype": _SAFETENSORS_DTYPES[dtype],
            "shape": list(map(int, shape)),
            "data_offsets": [0, total],
        }
    }
    if metadata:
        header["__metadata__"] = metadata
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    written = 0
    with atomic_file(path) as tmp, tmp.open("wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)))
        handle.write(encoded)
        for piece in pieces:
            if piece.dtype != dtype or tuple(piece.shape[1:]) != tuple(shape[1:]):
                raise ValueError(
                    f"shard piece {tuple(piece.shape)} {piece.dtype} does not fit {shape}"
                )
            data = piece.contiguous().view(torch.uint8).numpy().tobytes()
            handle.write(data)
            written += len(data)
        if written != total:
            raise ValueError(f"wrote {written} bytes for {name}, expected {total}")
