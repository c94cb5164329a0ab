"""Named model variants (ablation arms) and ablations: config over the same DAG.

A variant (`variants.<name>` in the config) is a model of `softtopic.models.MODELS` with some of its
`training` settings overridden; its name is used like a model's in `run.models` and ablations, and is
the first path component of its runs (results/<corpus>/models/<variant>/...). An ablation
(`ablations.<name>`) is a sub-grid of runs whose metrics go into one table and figure.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from softtopic.models import MODELS, TAU_FREE

GRID_KEYS = ("corpora", "lms", "models", "prompts", "temperatures")


def base_model(config: dict, name: str) -> str:
    """The `MODELS` entry behind a model or variant name."""
    return config["variants"][name]["model"] if name in config.get("variants", {}) else name


def model_names(config: dict) -> list[str]:
    """Every name usable as a model: the models themselves and the configured variants."""
    return sorted(set(MODELS) | set(config.get("variants", {})))


def model_settings(config: dict, name: str) -> dict:
    """The training settings of a model or variant: its base model's, updated by the variant's overrides."""
    settings = dict(config["training"].get(base_model(config, name), {}))
    if name in config.get("variants", {}):
        settings.update(config["variants"][name]["training"])
    return settings


def model_reads(config: dict, name: str) -> frozenset[str]:
    """The `TopicData` fields that a model or variant reads with its settings."""
    return MODELS[base_model(config, name)].reads(model_settings(config, name))


def reads_lm_stage(config: dict, name: str) -> bool:
    """Whether runs of this model are per LM, prompt and tau (its base model's family reads the LM)."""
    return "lm" in MODELS[base_model(config, name)].requires


def tau_label(tau: float) -> str:
    """How a temperature appears in paths: 3 -> '3', 0.5 -> '0.5', 1366865.7 -> '1366865.7': the shortest
    decimal that reads back as the same number, never in exponent notation (the {tau} wildcard is digits
    and a dot; '{tau:g}' wrote 1.36687e+06, which no rule matched, and trained at a rounded tau)."""
    return np.format_float_positional(float(tau), trim="-")


def grid_runs(config: dict, grid: dict) -> list[tuple[str, str]]:
    """(corpus, run path under results/<corpus>/models/) of every run of a grid: `grid` gives corpora,
    LMs, models, prompts and temperatures; K and seeds come from `run`. Where the grid names
    `sweep_models`, the other LM-supervised models train at `metrics.table_tau` alone. The grid's
    `reference_rows` (K-means reference rows, when it names any) run beside its models; those reading the
    LM's hidden states (`TAU_FREE`) run at `metrics.table_tau` alone."""
    run = config["run"]
    sweep = grid.get("sweep_models")
    models = list(grid["models"]) + [m for m in grid.get("reference_rows") or [] if m not in grid["models"]]
    runs = []
    for corpus, model, k, seed in product(grid["corpora"], models, run["num_topics"], run["seeds"]):
        if not reads_lm_stage(config, model):
            runs.append((corpus, f"{model}/K{k}/seed{seed}"))
            continue
        tau_free = base_model(config, model) in TAU_FREE
        taus = grid["temperatures"] if (sweep is None or model in sweep) and not tau_free else [config["metrics"]["table_tau"]]
        for lm, prompt, tau in product(grid["lms"], grid["prompts"], taus):
            runs.append((corpus, f"{model}/{lm}/{prompt}/K{k}/tau{tau_label(tau)}/seed{seed}"))
    return runs


def ablation_grid(config: dict, name: str) -> dict:
    """The sub-grid of one ablation: its own lists, `run`'s where it gives none."""
    ablation = config["ablations"][name]
    return {key: ablation.get(key) or config["run"][key] for key in GRID_KEYS}
