import copy
import shutil
import subprocess
import sys

import pytest
import yaml

from softtopic.config import ConfigError, validate_config

from conftest import REPO

SCHEMA = REPO / "config" / "schema.yaml"


@pytest.fixture
def config():
    """The shipped config with SmolLM2 as the run's LM (the LM the edits below break)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["run"]["lms"] = ["smollm2"]
    return config


def test_shipped_configs_are_valid_and_completed_with_defaults(config):
    for path in (REPO / "config" / "config.yaml", REPO / "config" / "test" / "config.yaml"):
        completed = validate_config(yaml.safe_load(path.read_text()), SCHEMA, root=REPO)
        assert completed["training"]["dsl"]["kl_weight"] == 1000
        assert completed["lms"]["smollm2"]["dtype"] == "auto" and completed["lms"]["smollm2"]["jobs"] == 1
        assert completed["corpora"]["bbc"]["format"] == "auto"
    assert "training" not in config  # defaults are added to a copy


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["run"].update(temperatures=[3, 0]), r"'run.temperatures\[1\]' = 0 .*Allowed: .*> 0"),
        (lambda c: c["run"].update(num_topics=[1]), r"'run.num_topics\[0\]' = 1 .*Allowed: .*>= 2"),
        (lambda c: c["run"].update(models=["dsl", "nmf"]), r"'run.models\[1\]' = 'nmf' is neither a model nor a variant; known: .*'dsl'"),
        (lambda c: c.update(variants={"x": {"model": "nmf"}}), r"'variants.x.model' = 'nmf' is not a model; allowed: .*'dsl'"),
        (lambda c: c.update(variants={"x": {"model": "dsl", "training": {"topk": 3}}}),
         r"'variants.x.training.topk': model 'dsl' has no such training setting; allowed: .*'target_top_k'"),
        (lambda c: c.update(variants={"x": {"model": "dsl", "training": {"target_top_p": 1.5}}}),
         r"'variants.x.training.target_top_p' = 1.5 is invalid.*<= 1"),
        (lambda c: c.update(variants={"prodlda": {"model": "dsl"}}), r"'variants.prodlda': 'prodlda' is a model's own name"),
        (lambda c: c.update(ablations={"a": {"models": ["dsl-ce"]}}), r"'ablations.a.models\[0\]' = 'dsl-ce' is neither"),
        (lambda c: c.update(ablations={"a": {"prompts": ["other"]}}), r"'ablations.a.prompts\[0\]' = 'other' is not in `prompts`"),
        (lambda c: c.update(ablations={"a": {"lms": ["smollm2", "llama"]}}), r"'ablations.a.lms\[1\]' = 'llama' is not in `lms`"),
        (lambda c: c.update(ablations={"a": {"lms": ["gemma270m"]}}, lms={**c["lms"], "gemma270m": {"source": "./no/gemma"}}),
         r"'lms.gemma270m.source' .*no such directory"),
        (lambda c: c["lms"]["smollm2"].update(source="./models/missing"), r"'lms.smollm2.source' .*no such directory"),
        (lambda c: c["lms"]["smollm2"].update(source="pypi:not_a_package"), r"'lms.smollm2.source' .*not installed"),
        (lambda c: c["run"].update(lms=["llama"]), r"'run.lms\[0\]' = 'llama' is not in `lms`"),
        (lambda c: c["vocabulary"].update(sise=10), r"'vocabulary': .*'sise'.*allowed keys: \['filter', 'min_word_length', 'size'\]"),
        (lambda c: c.update(topics={"label_lm": "llama"}), r"'topics.label_lm' = 'llama' is not in `lms`"),
        (lambda c: c.update(topics={"labeller": "gpt"}), r"'topics.labeller' = 'gpt' .*Allowed: .*'chat'"),
        (lambda c: c.update(prompt_template="no/such.txt"), r"'prompt_template' = 'no/such.txt': .*No such file"),
        (lambda c: c.setdefault("metrics", {}).update(rating={"rater": "local", "lm": "llama"}),
         r"'metrics.rating.lm' = 'llama': the local rater needs one of \[.*'smollm2'"),
        (lambda c: c.setdefault("metrics", {}).update(rating={"rater": "local"}), r"'metrics.rating.lm' = None: the local rater needs one of"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(config, edit, message):
    bad = copy.deepcopy(config)
    edit(bad)
    with pytest.raises(ConfigError, match=message):
        validate_config(bad, SCHEMA, root=REPO)


def test_unknown_corpus_column_is_named(tmp_path, config):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mine.tsv").write_text("body\ttopic\nhello\tx\n")
    config["corpora"]["mine"] = {"path": "data/mine.tsv", "text_column": "text", "label_column": "topic"}
    config["run"]["corpora"] = ["mine"]
    with pytest.raises(ConfigError, match=r"'corpora.mine.text_column' = 'text' is not a column .*\['body', 'topic'\]"):
        validate_config(config, SCHEMA, root=tmp_path)


def test_snakemake_stops_before_any_job_on_a_bad_value(tmp_path, config):
    config["run"]["temperatures"] = [-1]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
         "--configfile", str(path), "--cores", "1", "-n"],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "run.temperatures[0]" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()



def _corpus_file(root, edit_corpus):
    """A config whose only corpus `mine` is data/mine.tsv under `root` (2 topics, LDA only), edited."""
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "mine.tsv").write_text("body\ttopic\n" + "".join(f"text {i}\tx\n" for i in range(5)))
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["corpora"]["mine"] = {"path": "data/mine.tsv", "text_column": "body", "label_column": "topic"}
    config["run"].update(corpora=["mine"], models=["lda"], num_topics=[2])
    edit_corpus(config, root)
    return config


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c, r: None, None),  # the baseline: valid
        (lambda c, r: c["run"].update(corpora=["other"]), r"'run.corpora\[0\]' = 'other' is not in `corpora`; known: \['bbc', 'mine'\]"),
        (lambda c, r: c["run"].update(sweep_models=["dsl"]), r"'run.sweep_models\[0\]' = 'dsl' is not in `run.models`: \['lda'\]"),
        (lambda c, r: c["run"].update(prompts=["terse"]), r"'run.prompts\[0\]' = 'terse' is not in `prompts`; known: \['default'\]"),
        (lambda c, r: c["metrics"].update(coherence_reference="wiki") if "metrics" in c else c.update(metrics={"coherence_reference": "wiki"}),
         r"'metrics.coherence_reference' = 'wiki': use 'self', one of \['bbc', 'mine'\], or the path of a MediaWiki dump"),
        (lambda c, r: c.setdefault("metrics", {}).update(coherence_reference="data/wiki.xml.bz2"),
         r"'metrics.coherence_reference' = 'data/wiki.xml.bz2': no such MediaWiki dump \(.*data/wiki.xml.bz2\)"),
        (lambda c, r: c["corpora"]["bbc"].update(path="data/raw/bbc.tsv") or c["run"].update(corpora=["bbc"]),
         r"'corpora.bbc.path' must be 'data/raw/bbc.jsonl' for a packaged corpus"),
        (lambda c, r: c["corpora"]["mine"].update(path="data/absent.tsv"), r"'corpora.mine.path': .*absent.tsv does not exist"),
        (lambda c, r: (r / "data" / "mine.xlsx").write_text("") or c["corpora"]["mine"].update(path="data/mine.xlsx"),
         r"'corpora.mine': cannot tell the format .*set `format:`"),
        (lambda c, r: c["corpora"]["mine"].update(label_column="label"), r"'corpora.mine.label_column' = 'label' is not a column"),
        (lambda c, r: c["corpora"]["mine"].update(quoting="csv", path="data/quoted.tsv") or (r / "data" / "quoted.tsv").write_text('"body\tlabel\n'),
         r"'corpora.mine': .*quoted.tsv:1: the header row cannot be read \(the quote opening field 1 on line 1 \(column 1\) is never closed\)"),
        (lambda c, r: c["run"].update(num_topics=[2, 6]), r"'corpora.mine': corpus 'mine' has 5 rows at most, too few for K = 6"),
        (lambda c, r: c["corpora"]["mine"].update(encoding="no-such-codec"), r"'corpora.mine': .*unknown encoding 'no-such-codec'"),
        (lambda c, r: c["run"].update(models=["dsl"], lms=["smollm2"]) or c["lms"]["smollm2"].update(source="models/absent.gguf"),
         r"'lms.smollm2.source' = 'models/absent.gguf': GGUF file not found"),
        (lambda c, r: c["run"].update(models=["dsl"], lms=["smollm2"]) or c["lms"]["smollm2"].update(source="./absent"),
         r"'lms.smollm2.source' = './absent': no such directory .*because it starts like a path"),
        # the local rater's LM is checked although no model of the run reads the LM stage
        (lambda c, r: c.setdefault("metrics", {}).update(rating={"rater": "local", "lm": "smollm2"}) or c["lms"]["smollm2"].update(source="./absent"),
         r"'lms.smollm2.source' = './absent': no such directory"),
        # a template in the working directory is read before the workflow's own (config/prompt_template.txt)
        (lambda c, r: (r / "config").mkdir() or (r / "config" / "prompt_template.txt").write_text("{document} {instruction}"),
         r"'prompt_template' = 'config/prompt_template.txt': a prompt template must put \{instruction\} before \{document\}"),
        (lambda c, r: c.update(prompt_template=str(r / "t.txt")) or (r / "t.txt").write_text("{instruction}"),
         r"'prompt_template' = '.*t.txt': a prompt template must hold each of .* exactly once"),
    ],
)
def test_every_cross_check_fails_on_its_bad_input(tmp_path, edit, message):
    config = _corpus_file(tmp_path, edit)
    if message is None:
        assert validate_config(config, SCHEMA, root=tmp_path)["corpora"]["mine"]["quoting"] == "auto"
        return
    with pytest.raises(ConfigError, match=message):
        validate_config(config, SCHEMA, root=tmp_path)


def _reversed_keys(value):
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(list(value))}
    return [_reversed_keys(v) for v in value] if isinstance(value, list) else value


def test_key_order_does_not_change_the_validated_config(config):
    first = validate_config(config, SCHEMA, root=REPO)
    second = validate_config(_reversed_keys(config), SCHEMA, root=REPO)
    assert list(_reversed_keys(config)) != list(config)
    assert repr(first) == repr(second)  # Snakemake compares params by their repr


def test_a_mediawiki_dump_is_a_valid_coherence_reference(tmp_path):
    config = _corpus_file(tmp_path, lambda c, r: c.setdefault("metrics", {}).update(coherence_reference="data/wiki.xml.bz2"))
    (tmp_path / "data" / "wiki.xml.bz2").write_bytes(b"")
    assert validate_config(config, SCHEMA, root=tmp_path)["metrics"]["coherence_reference"] == "data/wiki.xml.bz2"


def test_a_variant_is_usable_as_a_model(config):
    config["variants"] = {"dsl-ce": {"model": "dsl", "training": {"loss": "ce"}}}
    config["run"]["models"] = ["dsl", "dsl-ce"]
    completed = validate_config(config, SCHEMA, root=REPO)
    assert completed["variants"]["dsl-ce"] == {"model": "dsl", "training": {"loss": "ce"}}


def test_the_ablation_config_is_valid(tmp_path, shared_dataset):
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "raw" / "stackoverflow.tsv").symlink_to(shared_dataset("stackoverflow.tsv"))
    shutil.copytree(REPO / "config", tmp_path / "config")
    completed = validate_config(yaml.safe_load((REPO / "config" / "ablations.yaml").read_text()), SCHEMA, root=tmp_path)
    assert completed["corpora"]["so-v500"]["vocabulary_size"] == 500 and completed["corpora"]["so"]["vocabulary_size"] is None
