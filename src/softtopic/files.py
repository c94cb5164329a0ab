"""Writing an output so that a failed write never leaves a file that looks finished.

A job that runs out of disk space (or into its file-size limit) half-way through an array must not leave
a truncated file under the output's name: Snakemake removes a failed job's outputs, but a killed
Snakemake, DVC or a human reading results/ would take it as complete. `atomic_write` writes to a
temporary name beside the output and renames it only when the write finished; a failed write removes the
temporary file and raises an error that names the output.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriteError(OSError):
    """An output could not be written (disk full, file-size limit, ...); nothing was left under its name."""


def temporary_name(path: str | Path) -> Path:
    """A hidden name beside `path` for this process, ending like `path` (np.save and np.savez add their
    suffix to names that lack it)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write the output `path` to; it becomes `path` when the block ends without
    an error. On an OSError (ENOSPC, EFBIG, ...) the temporary file is removed and a `WriteError` names
    `path`; other errors propagate unchanged (the temporary file removed too)."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, WriteError):
            raise
        reason = error.strerror or str(error)
        code = errno.errorcode.get(error.errno, "") if error.errno else ""
        raise WriteError(
            error.errno, f"could not write {path}: {reason}{f' ({code})' if code else ''}; nothing was left "
            f"under that name. Free space where it goes (df -h {path.parent}) or raise the job's file-size "
            "limit, then rerun",
        ) from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
