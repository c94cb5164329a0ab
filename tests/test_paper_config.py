"""config/paper.yaml: the paper's grid, valid over config/config.yaml once the raw TSVs are in data/raw/."""

import shutil

import yaml

from conftest import REPO, shared_dataset_path
from softtopic.config import validate_config


def merged(base: dict, update: dict) -> dict:
    """Snakemake's --configfile merge: nested mappings are updated key by key."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def test_paper_grid(tmp_path):
    for name in ("stackoverflow.tsv", "tweet_topic.tsv"):
        (tmp_path / "data" / "raw").mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_dataset_path(name), tmp_path / "data" / "raw" / name)
    base, paper = (yaml.safe_load((REPO / "config" / f).read_text()) for f in ("config.yaml", "paper.yaml"))
    config = validate_config(merged(base, paper), REPO / "config" / "schema.yaml", root=tmp_path)
    run = config["run"]
    assert run["corpora"] == ["20ng", "stackoverflow", "tweettopic"]
    assert run["num_topics"] == [25, 50, 75, 100] and run["seeds"] == [0, 1, 2, 3, 4]
    assert run["temperatures"] == [0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert [config["lms"][lm]["source"] for lm in run["lms"]][:3] == [
        "baidu/ERNIE-4.5-0.3B-PT", "meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"
    ]
    assert config["corpora"]["20ng"]["packaged"] == "sklearn-20newsgroups"
    assert config["metrics"]["rating"] == config["metrics"]["rating"] | {"rater": "chat", "model": "gpt-4o"}
