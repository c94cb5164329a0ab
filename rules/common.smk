import os
import re
from pathlib import Path

from softtopic.config import validate_config
from softtopic.metrics.wikipedia import is_dump
from softtopic.models import MODELS
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


def reads_lm(model):
    """Whether a model is trained on the LM stage's outputs (then per LM, prompt and tau)."""
    return "lm" in MODELS[model].requires


LM_MODELS = sorted(m for m in MODELS if reads_lm(m))
BOW_MODELS = sorted(m for m in MODELS if not reads_lm(m))
# A run's path under results/{corpus}/models/ (what the metric rules' {run} matches).
RUN_PATTERN = rf"({_alternatives(MODELS)})/.+"


wildcard_constraints:
    corpus=_alternatives(config["corpora"]),
    lm=_alternatives(config["lms"]),
    prompt=_alternatives(config["prompts"]),
    part=r"\d+-of-\d+",
    model=_alternatives(MODELS),
    encoder=_alternatives([config["embeddings"]["encoder"]]),
    K=r"\d+",
    tau=r"\d+(\.\d+)?",
    seed=r"\d+",


def tau_label(tau):
    """How a temperature appears in paths: 3 -> '3', 0.5 -> '0.5'."""
    return f"{tau:g}"


def temperatures(model):
    """The taus a LM-supervised model trains at: the sweep's, or the main table's alone."""
    sweep = config["run"]["sweep_models"]
    if sweep is None or model in sweep:
        return config["run"]["temperatures"]
    return [config["metrics"]["table_tau"]]


def run_ids(corpus):
    """Every model run of the configured grid, as its path under results/{corpus}/models/."""
    grid = config["run"]
    runs = []
    for model in grid["models"]:
        for k in grid["num_topics"]:
            for seed in grid["seeds"]:
                if not reads_lm(model):
                    runs.append(f"{model}/K{k}/seed{seed}")
                    continue
                for lm in grid["lms"]:
                    for prompt in grid["prompts"]:
                        for tau in temperatures(model):
                            runs.append(
                                f"{model}/{lm}/{prompt}/K{k}/tau{tau_label(tau)}/seed{seed}"
                            )
    return runs


def resolved_config(wildcards):
    """The validated config with its top-level keys sorted too (config.update keeps the file's order;
    Snakemake compares params by repr, so that order must not rerun a job)."""
    return {key: config[key] for key in sorted(config)}


def get_final_output():
    return (
        ["reports/temperature_sweep.pdf"]
        + [f"reports/{corpus}/metrics.csv" for corpus in config["run"]["corpora"]]
        + [
            f"reports/{corpus}/retrieval_references.csv"
            for corpus in config["run"]["corpora"]
        ]
        + ["reports/tables/main.md", "reports/provenance/config.yaml"]
    )


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
    """Hyperparameters of the {model} a training job fits."""
    return config["training"][wildcards.model]


def model_inputs(wildcards):
    """What the {model} reads (its `requires`), by name: the vocabulary and BoW always, the LM stage's
    logits and hidden states, document embeddings, word vectors."""
    corpus = f"results/{wildcards.corpus}"
    inputs = {
        "bow": f"{corpus}/vocabulary/bow.npz",
        "vocabulary": f"{corpus}/vocabulary/vocabulary.txt",
    }
    requires = MODELS[wildcards.model].requires
    if "lm" in requires:
        lm_dir = f"{corpus}/lm/{wildcards.lm}/{wildcards.prompt}"
        inputs |= {"logits": f"{lm_dir}/logits.npy", "hidden": f"{lm_dir}/hidden.npy"}
    if "embeddings" in requires:
        encoder = config["embeddings"]["encoder"]
        inputs["embeddings"] = f"{corpus}/embeddings/{encoder}/embeddings.npy"
    if "word_vectors" in requires:
        inputs["word_vectors"] = f"{corpus}/vocabulary/word2vec.npy"
    return inputs


def coherence_reference(wildcards):
    """The coherence reference: the corpus's own documents unless the config names another corpus, or
    the tokens of a MediaWiki dump."""
    reference = config["metrics"]["coherence_reference"]
    if is_dump(reference):
        return {"tokens": "results/wikipedia/tokens.txt.gz"}
    corpus = wildcards.corpus if reference == "self" else reference
    return {"documents": f"results/{corpus}/corpus/documents.parquet"}


def wikipedia_dump(wildcards):
    reference = config["metrics"]["coherence_reference"]
    if not is_dump(reference):
        raise ValueError(
            f"metrics.coherence_reference = {reference!r} names no MediaWiki dump (*.xml.bz2) to tokenise"
        )
    return reference


def run_metric_files(wildcards):
    return [
        f"results/{wildcards.corpus}/metrics/{run}.json"
        for run in run_ids(wildcards.corpus)
    ]


def retrieval_reference_files(wildcards):
    """Reference retrieval rows of a corpus: one file per (LM, prompt) of the grid."""
    grid = config["run"]
    return [
        f"results/{wildcards.corpus}/retrieval/references/{lm}/{prompt}.json"
        for lm in grid["lms"]
        for prompt in grid["prompts"]
    ]


def retrieval_reference_tables(wildcards):
    return [
        f"reports/{corpus}/retrieval_references.csv"
        for corpus in config["run"]["corpora"]
    ]


def metric_tables(wildcards):
    return [f"reports/{corpus}/metrics.csv" for corpus in config["run"]["corpora"]]


def _rating():
    """The rating settings, checked: a local rater needs an LM that the config knows."""
    rating = config["metrics"]["rating"]
    if rating["rater"] == "local" and rating["lm"] not in config["lms"]:
        raise ValueError(
            f"metrics.rating.lm = {rating['lm']!r}: the local rater needs one of {sorted(config['lms'])}"
        )
    return rating


def rating_lm_manifest(wildcards):
    rating = _rating()
    return f"resources/lm/{rating['lm']}/lm.json" if rating["rater"] == "local" else []


def rating_lm_settings(wildcards):
    rating = _rating()
    return config["lms"][rating["lm"]] if rating["rater"] == "local" else {}


def rating_file(wildcards):
    """The run's topic rating, or nothing when rating is off."""
    if _rating()["rater"] == "none":
        return []
    return f"results/{wildcards.corpus}/rating/{wildcards.run}.json"
