"""Glue for the thin Snakemake scripts: per-job logging and run identity."""

from __future__ import annotations

import fcntl
import importlib.metadata
import logging
import os
import platform
import sys
from pathlib import Path

from softtopic.errors import BusyError, UserError


def script_logging(log_path: str) -> logging.Logger:
    """Send this job's log records, warnings and any uncaught error to its Snakemake log file. An uncaught
    UserError (CorpusError, EmptyVocabularyError, BusyError, ...) shows one line on the console, its message;
    its traceback goes to the log. Any other error shows its traceback on the console too."""
    logging.basicConfig(
        level=logging.INFO,
        handlers=[logging.FileHandler(log_path, mode="w")],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
    log = logging.getLogger("softtopic")

    def log_uncaught(kind, value, traceback):
        log.critical("job failed: %s: %s", kind.__name__, value, exc_info=(kind, value, traceback))
        if isinstance(value, UserError):
            print(f"{kind.__name__}: {value} (traceback in {log_path})", file=sys.stderr, flush=True)
        else:
            sys.__excepthook__(kind, value, traceback)

    sys.excepthook = log_uncaught
    return log


def package_versions() -> list[tuple[str, str]]:
    """(name, version) of Python and of every installed distribution, sorted by name."""
    installed = {(d.metadata["Name"] or "").lower(): d.version for d in importlib.metadata.distributions()}
    return [("python", platform.python_version())] + sorted((n, v) for n, v in installed.items() if n)


def run_identity(model: str, corpus: str, wildcards) -> dict:
    """The fields that name one model run (None where they do not apply)."""
    tau = getattr(wildcards, "tau", None)
    return {
        "corpus": corpus,
        "model": model,
        "lm": getattr(wildcards, "lm", None),
        "prompt": getattr(wildcards, "prompt", None),
        "num_topics": int(wildcards.K),
        "tau": None if tau is None else float(tau),
        "seed": int(wildcards.seed),
    }


def hold_lock(path: str | Path, busy: str):
    """An exclusive lock on the file `path` (created, holding this process's PID), held by the open file
    returned until it is closed or the process ends, however it ends. When another process holds it, raises
    BusyError with `busy` formatted with that process's PID ({pid})."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise BusyError(busy.format(pid=owner)) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
