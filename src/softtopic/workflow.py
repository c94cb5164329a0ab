"""Glue for the thin Snakemake scripts: per-job logging and run identity."""

from __future__ import annotations

import logging
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
