"""Glue for the thin Snakemake scripts: per-job logging and run identity."""

from __future__ import annotations

import importlib.metadata
import logging
import platform
import sys


def script_logging(log_path: str) -> logging.Logger:
    """Send this job's log records, warnings and any uncaught error to its Snakemake log file."""
    logging.basicConfig(
        level=logging.INFO,
        handlers=[logging.FileHandler(log_path, mode="w")],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
    log = logging.getLogger("softtopic")

    def log_uncaught(kind, value, traceback):
        log.critical("job failed", exc_info=(kind, value, traceback))
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
