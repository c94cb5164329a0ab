"""config/paper.yaml: the paper's grid, valid over config/config.yaml once the raw TSVs are in data/raw/."""

import re
import resource
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from conftest import REPO, shared_dataset_path
from softtopic.config import validate_config
from softtopic.models import MODELS


def merged(base: dict, update: dict) -> dict:
    """Snakemake's --configfile merge: nested mappings are updated key by key."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def raw_tables(root):
    """The authors' two TSVs under root/data/raw/ (20 Newsgroups is materialised by a rule)."""
    for name in ("stackoverflow.tsv", "tweet_topic.tsv"):
        (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_dataset_path(name), root / "data" / "raw" / name)


def test_paper_grid(tmp_path):
    raw_tables(tmp_path)
    base, paper = (yaml.safe_load((REPO / "config" / f).read_text()) for f in ("config.yaml", "paper.yaml"))
    config = validate_config(merged(base, paper), REPO / "config" / "schema.yaml", root=tmp_path)
    run = config["run"]
    references = ["kmeans-embeddings", "kmeans-hidden"]
    # every model and floor row; not kmeans-combined, the clustering the fair DSL (protocol fair) starts from
    assert sorted(run["models"] + run["reference_rows"]) == sorted(set(MODELS) - {"kmeans-combined"})
    assert run["sweep_models"] == ["dsl"]
    assert run["reference_rows"] == references and config["protocol"] == "paper"
    assert config["embeddings"]["text"] == "filtered" and config["training"]["lda"]["passes"] == 1
    assert run["corpora"] == ["20ng", "stackoverflow", "tweettopic"]
    assert run["num_topics"] == [25, 50, 75, 100] and run["seeds"] == [0, 1, 2, 3, 4]
    assert run["temperatures"] == [0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert [config["lms"][lm]["source"] for lm in run["lms"]][:3] == [
        "baidu/ERNIE-4.5-0.3B-PT", "meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"
    ]
    assert config["corpora"]["20ng"]["packaged"] == "sklearn-20newsgroups"
    assert config["metrics"]["rating"] == config["metrics"]["rating"] | {"rater": "chat", "model": "gpt-4o"}


@pytest.mark.workflow
def test_paper_grid_plans_every_model_and_the_temperature_figure(tmp_path):
    """The dry run of the whole grid: every model on every corpus, the tau sweep for DSL, the other DSL
    variants at the table's tau, and the temperature figure. Prints how long planning took."""
    raw_tables(tmp_path)
    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
         "--configfile", str(REPO / "config" / "paper.yaml"), "-n"],
        capture_output=True, text=True,
    )
    wall, cpu = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - cpu
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    plan = result.stdout + result.stderr
    jobs = int(re.search(r"^total\s+(\d+)", plan, re.MULTILINE).group(1))
    print(f"\npaper.yaml dry run: {jobs} jobs planned in {wall:.1f} s wall, {cpu:.1f} s CPU")
    # (corpus, model, "<lm>/<prompt>/" or "", K, tau or "", seed) of every model output planned
    outputs = set(re.findall(
        r"results/([\w-]+)/models/([\w-]+)/((?:[\w-]+/){2})?K(\d+)/(?:tau([\d.]+)/)?seed(\d)/output\.npz", plan
    ))
    for corpus in ("20ng", "stackoverflow", "tweettopic"):
        assert {model for c, model, *_ in outputs if c == corpus} == set(MODELS) - {"kmeans-combined"}, corpus
    assert {lm for _, _, lm, *_ in outputs} == {"", *(f"{lm}/default/" for lm in
                                                      ("ernie03b", "llama1b", "llama8b", "qwen08b", "phi3mini"))}
    taus = {model: {tau for _, m, _, _, tau, _ in outputs if m == model} for model in MODELS}
    assert taus["dsl"] == {"0.5", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
    assert taus["dsl-etm"] == taus["dsl-ecrtm"] == taus["dsl-fastopic"] == taus["kmeans-hidden"] == {"3"}
    assert taus["lda"] == {""}
    # 3 corpora x 4 K x 5 seeds x (5 LMs x (10 + 3 + K-means on hidden states) + 9 rows without the LM)
    assert len(outputs) == 3 * 4 * 5 * (5 * 14 + 9)
    assert "reports/temperature_sweep.pdf" in plan and "reports/tables/main.md" in plan
