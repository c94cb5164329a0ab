import copy
import subprocess
import sys

import pytest
import yaml

from softtopic.config import ConfigError, validate_config

from conftest import REPO

SCHEMA = REPO / "config" / "schema.yaml"


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_shipped_configs_are_valid_and_completed_with_defaults(config):
    for path in (REPO / "config" / "config.yaml", REPO / "config" / "test" / "config.yaml"):
        completed = validate_config(yaml.safe_load(path.read_text()), SCHEMA, root=REPO)
        assert completed["training"]["dsl"]["kl_weight"] == 1000
        assert completed["lms"]["smollm2"]["dtype"] == "float32"
        assert completed["corpora"]["bbc"]["format"] == "auto"
    assert "training" not in config  # defaults are added to a copy


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["run"].update(temperatures=[3, 0]), r"'run.temperatures\[1\]' = 0 .*Allowed: .*> 0"),
        (lambda c: c["run"].update(num_topics=[1]), r"'run.num_topics\[0\]' = 1 .*Allowed: .*>= 2"),
        (lambda c: c["run"].update(models=["dsl", "nmf"]), r"'run.models\[1\]' .*one of 'dsl', 'prodlda', 'lda'"),
        (lambda c: c["lms"]["smollm2"].update(source="./models/missing"), r"'lms.smollm2.source' .*no such directory"),
        (lambda c: c["lms"]["smollm2"].update(source="pypi:not_a_package"), r"'lms.smollm2.source' .*not installed"),
        (lambda c: c["run"].update(lms=["llama"]), r"'run.lms\[0\]' = 'llama' is not in `lms`"),
        (lambda c: c["vocabulary"].update(sise=10), r"'vocabulary': .*'sise'.*allowed keys: \['filter', 'min_word_length', 'size'\]"),
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

