import os
import re
from pathlib import Path

from softtopic.config import validate_config
from softtopic.sources import PACKAGED_CORPORA

# Validate and complete the config before any job runs (defaults come from the schema).
config.update(
    validate_config(config, Path(workflow.basedir) / "config" / "schema.yaml", root=".")
)

# Scripts import softtopic from src/, also inside per-rule conda environments.
os.environ.update(PYTHONPATH=str(Path(workflow.basedir) / "src"))


def _alternatives(names):
    """A regex matching exactly these names (or nothing at all)."""
    return "|".join(re.escape(n) for n in names) or "(?!x)x"


wildcard_constraints:
    corpus=_alternatives(config["corpora"]),
    lm=_alternatives(config["lms"]),
    prompt=_alternatives(config["prompts"]),
    part=r"\d+-of-\d+",
    baseline="prodlda|lda",
    K=r"\d+",
    tau=r"\d+(\.\d+)?",
    seed=r"\d+",


def tau_label(tau):
    """How a temperature appears in paths: 3 -> '3', 0.5 -> '0.5'."""
    return f"{tau:g}"


def run_ids(corpus):
    """Every model run of the configured grid, as its path under results/{corpus}/models/."""
    grid = config["run"]
    runs = []
    for model in grid["models"]:
        for k in grid["num_topics"]:
            for seed in grid["seeds"]:
                if model != "dsl":
                    runs.append(f"{model}/K{k}/seed{seed}")
                    continue
                for lm in grid["lms"]:
                    for prompt in grid["prompts"]:
                        for tau in grid["temperatures"]:
                            runs.append(
                                f"dsl/{lm}/{prompt}/K{k}/tau{tau_label(tau)}/seed{seed}"
                            )
    return runs


def get_final_output():
    return ["reports/temperature_sweep.pdf"] + [
        f"reports/{corpus}/metrics.csv" for corpus in config["run"]["corpora"]
    ]


def packaged_corpora():
    """Names of the corpora that the materialise_corpus rule writes from a registry package."""
    return [
        n for n, c in config["corpora"].items() if c.get("packaged") in PACKAGED_CORPORA
    ]


def raw_corpus(wildcards):
    return config["corpora"][wildcards.corpus]["path"]


def corpus_settings(wildcards):
    settings = dict(config["corpora"][wildcards.corpus])
    settings.pop("packaged", None)
    return settings


def packaged_source(wildcards):
    return config["corpora"][wildcards.corpus]["packaged"]


def lm_source(wildcards):
    return config["lms"][wildcards.lm]["source"]


def lm_settings(wildcards):
    settings = dict(config["lms"][wildcards.lm])
    settings.pop("source")
    return settings


def lm_shard_dir(wildcards):
    """Where one LM job keeps its finished shards so that a killed run resumes."""
    return f"results/{wildcards.corpus}/lm/{wildcards.lm}/{wildcards.prompt}/shards/{wildcards.part}"


def lm_part_files(wildcards):
    """The part files of the lms.<lm>.jobs LM jobs over one corpus: parts/<i>-of-<N>.npz."""
    jobs = config["lms"][wildcards.lm]["jobs"]
    folder = f"results/{wildcards.corpus}/lm/{wildcards.lm}/{wildcards.prompt}/parts"
    return [f"{folder}/{i}-of-{jobs}.npz" for i in range(1, jobs + 1)]


def lm_part_number(wildcards):
    """(i, N) of the LM job writing part <i>-of-<N>."""
    return tuple(int(n) for n in wildcards.part.split("-of-"))


def prompt_instruction(wildcards):
    return config["prompts"][wildcards.prompt]


def training_settings(wildcards):
    """Hyperparameters of the model a training job fits: its {baseline}, or DSL."""
    return config["training"][getattr(wildcards, "baseline", "dsl")]


def reference_documents(wildcards):
    """The coherence reference corpus: the corpus itself unless the config names another."""
    reference = config["metrics"]["coherence_reference"]
    corpus = wildcards.corpus if reference == "self" else reference
    return f"results/{corpus}/corpus/documents.parquet"


def run_metric_files(wildcards):
    return [
        f"results/{wildcards.corpus}/metrics/{run}.json"
        for run in run_ids(wildcards.corpus)
    ]


def metric_tables(wildcards):
    return [f"reports/{corpus}/metrics.csv" for corpus in config["run"]["corpora"]]
