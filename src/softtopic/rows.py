"""Rows of a possibly memory-mapped array, read without the mapping's pages staying in the process.

Pages of a memory map count in a process's resident set (what Snakemake's benchmark reports as max_rss)
once read, until the kernel needs them back. A job that reads every row of a 8 GB logits file, batch by
batch, would so show 8 GB of RSS although it never holds more than a batch. `take` copies the rows out
and then drops the mapping's pages from this process (madvise MADV_DONTNEED: they stay in the page
cache, and the next read maps them again), so RSS stays at what the job really holds.
"""

from __future__ import annotations

import mmap

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
