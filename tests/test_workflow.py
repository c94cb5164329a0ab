"""The tiny config (40 BBC documents, the real SmolLM2) run end to end by Snakemake in temporary directories."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from softtopic.output import ModelOutput

from conftest import REPO

pytestmark = pytest.mark.workflow
LM_DIR = "results/bbc/lm/smollm2/default"


def snakemake_command(workdir, configfile, *args):
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--configfile", str(configfile), "--workflow-profile", str(REPO / "profiles" / "default"),
            "--cores", "2", *args]


def snakemake(workdir, configfile, *args):
    result = subprocess.run(snakemake_command(workdir, configfile, *args), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def tiny_config(path, **lm_settings):
    config = yaml.safe_load((REPO / "config" / "test" / "config.yaml").read_text())
    config["lms"]["smollm2"].update(lm_settings)
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    snakemake(workdir, REPO / "config" / "test" / "config.yaml")
    return workdir


def test_outputs_of_every_stage(tiny_run):
    table = pd.read_csv(tiny_run / "reports" / "bbc" / "metrics.csv")
    assert sorted(table["model"]) == ["dsl", "dsl", "lda", "prodlda"]
    assert sorted(table["tau"].dropna()) == [1.0, 3.0]
    for column in ("purity", "inverse_purity", "harmonic_purity", "nmi", "td", "irbo"):
        assert table[column].between(0, 1).all(), column
    assert table["c_v"].notna().all() and table["c_npmi"].between(-1, 1).all()
    assert (tiny_run / "reports" / "temperature_sweep.pdf").read_bytes().startswith(b"%PDF")
    documents = pd.read_parquet(tiny_run / "results" / "bbc" / "corpus" / "documents.parquet")
    assert list(documents.columns) == ["doc_id", "text", "label", "source_row"] and len(documents) == 40
    logits = np.load(tiny_run / LM_DIR / "logits.npy")
    hidden = np.load(tiny_run / LM_DIR / "hidden.npy")
    assert logits.shape == (40, 150) and logits.dtype == np.float32 and hidden.shape == (40, 576)
    meta = json.loads((tiny_run / LM_DIR / "meta.json").read_text())
    assert meta["projection"]["words_sharing_first_subtoken"] >= 0 and meta["extraction"]["tokens_per_second"] > 0
    assert not (tiny_run / LM_DIR / "shards").exists()
    output = ModelOutput.load(tiny_run / "results/bbc/models/dsl/smollm2/default/K3/tau3/seed0/output.npz")
    assert output.theta.shape == (40, 3) and output.config["tau"] == 3.0
    jobs = len(list((tiny_run / "benchmarks").rglob("*.tsv")))
    assert jobs == len(list((tiny_run / "logs").rglob("*.log"))) == 16  # the LM stage: 1 job + its gather
    assert not (tiny_run / LM_DIR / "parts").exists() or not any((tiny_run / LM_DIR / "parts").iterdir())


def test_second_run_has_nothing_to_do(tiny_run):
    assert "Nothing to be done" in snakemake(tiny_run, REPO / "config" / "test" / "config.yaml", "-n")


def test_a_new_temperature_costs_no_lm_pass(tiny_run, tmp_path):
    config = yaml.safe_load((REPO / "config" / "test" / "config.yaml").read_text())
    config["run"]["temperatures"] = [1, 3, 7]
    path = tmp_path / "more_taus.yaml"
    path.write_text(yaml.safe_dump(config))
    plan = snakemake(tiny_run, path, "-n")
    assert "tau7" in plan and "rule train_dsl" in plan
    assert "rule lm_outputs" not in plan and "rule acquire_lm" not in plan


def test_killed_lm_stage_resumes_with_identical_arrays(tiny_run, tmp_path):
    # Reuse the converted LM as a local directory; one prompt per shard, long enough to be caught mid-way.
    config = tiny_config(tmp_path / "resume.yaml", source=str(tiny_run / "resources/lm/smollm2/model"),
                         batch_size=1, shard_batches=1, max_document_tokens=200)
    target = f"{LM_DIR}/logits.npy"
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    snakemake(straight, config, target)

    process = subprocess.Popen(snakemake_command(killed, config, target), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / LM_DIR / "shards" / "1-of-1" / "shard-00003.npz").exists():
        assert process.poll() is None and time.time() < deadline, "LM stage ended before it could be killed"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / LM_DIR / "logits.npy").exists()

    snakemake(killed, config, "--unlock")
    snakemake(killed, config, target)
    meta = json.loads((killed / LM_DIR / "meta.json").read_text())
    assert meta["extraction"]["shards_resumed"] >= 4
    assert meta["extraction"]["tokens_computed_this_run"] < meta["extraction"]["prompt_tokens"]
    for name in ("logits.npy", "hidden.npy"):
        np.testing.assert_array_equal(np.load(killed / LM_DIR / name), np.load(straight / LM_DIR / name))


def test_lm_stage_split_over_three_jobs_gives_identical_arrays(tiny_run, tmp_path):
    config = tiny_config(tmp_path / "three.yaml", source=str(tiny_run / "resources/lm/smollm2/model"), jobs=3)
    split = tmp_path / "split"
    plan = snakemake(split, config, f"{LM_DIR}/logits.npy", "-n")
    assert plan.count("rule lm_outputs:") == 3 and plan.count("rule gather_lm_outputs:") == 1
    snakemake(split, config, f"{LM_DIR}/logits.npy")
    for name in ("logits.npy", "hidden.npy"):
        np.testing.assert_array_equal(np.load(split / LM_DIR / name), np.load(tiny_run / LM_DIR / name))
    meta = json.loads((split / LM_DIR / "meta.json").read_text())
    one = json.loads((tiny_run / LM_DIR / "meta.json").read_text())
    assert meta["extraction"]["jobs"] == 3 and one["extraction"]["jobs"] == 1
    for key in ("documents", "unique_prompts", "prompt_tokens"):
        assert meta["extraction"][key] == one["extraction"][key], key
    assert len(list((split / "benchmarks" / "bbc" / "lm" / "smollm2" / "default").glob("*-of-3.tsv"))) == 3
    assert not (split / LM_DIR / "shards").exists() and not list((split / LM_DIR).glob("parts/*.npz"))
