"""Rows of a possibly memory-mapped array, read without the mapping's pages staying in the process.

Pages of a memory map count in a process's resident set (what Snakemake's benchmark reports as max_rss)
once read, until the kernel needs them back. A job that reads every row of a 8 GB logits file, batch by
batch, would so show 8 GB of RSS although it never holds more than a batch. `take` copies the rows out
and then drops the mapping's pages from this process (madvise MADV_DONTNEED: they stay in the page
cache, and the next read maps them again), so RSS stays at what the job really holds.
"""

from __future__ import annotations

import mmap
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def take(array: np.ndarray, rows) -> np.ndarray:
    """`array[rows]` as an array of its own; for a read-only memory map, its pages are then released.
    Anything else that is not a numpy array (a sparse matrix) is indexed as it is."""
    if not isinstance(array, np.ndarray):
        return array[rows]
    taken = np.array(array[rows])
    release(array)
    return taken


def release(array: np.ndarray) -> None:
    """Drop the pages of `array`'s memory map (if it is one) from this process's resident set; a writable
    map is flushed to its file first (its pages, shared with the page cache, keep what was written)."""
    mapping = getattr(array, "_mmap", None)
    if not isinstance(array, np.memmap) or mapping is None or not hasattr(mapping, "madvise"):
        return
    if array.flags.writeable:
        array.flush()
    mapping.madvise(mmap.MADV_DONTNEED)


@contextmanager
def _npy_member(path: str | Path, key: str) -> Iterator[tuple]:
    """Array `key` of the .npz at `path` as (stream after its .npy header, shape, dtype)."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in reader:
            raise ValueError(f"{path}: array '{key}' has .npy format {version}, which this reader does not know")
        shape, fortran_order, dtype = reader[version](member)
        if dtype.hasobject or (fortran_order and len(shape) > 1) or not shape:
            raise ValueError(f"{path}: array '{key}' is not a C-ordered numeric array with rows")
        yield member, shape, dtype


def npz_shape(path: str | Path, key: str) -> tuple[int, ...]:
    """The shape of array `key` in the .npz at `path`, from its header alone."""
    with _npy_member(path, key) as (_, shape, _):
        return shape


def npz_row_blocks(path: str | Path, key: str, block_bytes: int = 64 << 20) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, block) of array `key` in the .npz at `path`, about `block_bytes` at a time (at least a
    row), read from the archive as a stream: memory holds one block, never the whole array (np.load would)."""
    with _npy_member(path, key) as (member, shape, dtype):
        row_bytes = dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
        rows = max(1, block_bytes // max(row_bytes, 1))
        for start in range(0, shape[0], rows):
            count = min(rows, shape[0] - start)
            data = member.read(count * row_bytes)
            if len(data) != count * row_bytes:
                raise ValueError(f"{path}: array '{key}' ends after {start} of its {shape[0]} rows (a cut file)")
            yield start, np.frombuffer(data, dtype=dtype).reshape((count, *shape[1:]))
