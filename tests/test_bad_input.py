"""Issue 9's table of bad inputs, each written as a small file and run through the real reader
(`read_table` + `prepare_corpus`), config validation or Snakemake, asserting what the user is told."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from softtopic.config import ConfigError, validate_config
from softtopic.corpus import CorpusError, check_size, prepare_corpus, read_table, write_report
from softtopic.metrics.clustering import clustering_scores, labelled_clustering_scores
from softtopic.sources import classify_source
from softtopic.vocabulary import EmptyVocabularyError, build_vocabulary, check_vocabulary, tokenize

from conftest import REPO

SCHEMA = REPO / "config" / "schema.yaml"


def rows_file(path, replace=None, separator="\n"):
    """A TSV of 20 documents (lines 2-21), with some lines replaced."""
    lines = ["text\tlabel"] + [f"document {i} about the market and shares\tl{i % 3}" for i in range(1, 21)]
    for number, line in (replace or {}).items():
        lines[number - 1] = line
    path.write_bytes((separator.join(lines) + separator).encode("utf-8"))
    return path


def read(path, **options):
    frame, report = read_table(path, **options)
    return prepare_corpus(frame, report, "text", "label"), report


def corpus_config(tmp_path, raw: str, **corpus):
    """The shipped config, with one corpus `mine` read from data/<raw> under tmp_path."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["corpora"] = {"mine": {"path": f"data/{raw}", **corpus}}
    config["run"].update(corpora=["mine"], models=["lda"], num_topics=[2])
    return config


# ---------------------------------------------------------------- TSV quoting, line endings, encodings
def test_unbalanced_quote_and_tab_in_field_are_named_by_their_line(tmp_path):
    path = rows_file(tmp_path / "c.tsv", {7: '"an unbalanced quote opens here\tl0', 13: "a tab\tinside\tl1"})
    documents, report = read(path)
    assert report.rows_read == 20 and report.kept == len(documents) == 19
    assert report.malformed == [f"{path}:13: 3 fields, header has 2"]
    assert documents.loc[documents["source_row"] == 7, "text"].item() == '"an unbalanced quote opens here'
    assert report.as_dict()["rows_starting_with_a_quote"] == 1
    # With CSV quoting asked for, the open quote is named by the line where the row starts.
    documents, report = read(path, quoting="csv")
    assert report.malformed[0] == f"{path}:7: the quote opening field 1 on line 7 (column 1) is never closed (lines 7-21)"
    assert report.summary("c").startswith("corpus c: 6 rows read, 5 kept; 1 malformed (lines 7-21)")
    assert "; 21 lines = 1 header + 5 kept + 15 malformed;" in report.summary("c")


def test_a_quote_closed_lines_later_merges_nothing_by_default(tmp_path):
    replace = {7: '"this quote\tl0', 10: 'is closed by a "quoted" word"\tl1'}
    documents, report = read(rows_file(tmp_path / "c.tsv", replace))
    assert report.kept == 20 and report.malformed == [] and report.multiline == []
    assert documents["text"].str.len().max() < 60
    assert documents.loc[documents["source_row"] == 7, "label"].item() == "l0"
    # With CSV quoting the merged row is legal CSV, and reported as spanning lines 7-10.
    documents, report = read(rows_file(tmp_path / "c.tsv", {7: '"this quote', 10: 'closed here"\tl1'}), quoting="csv")
    assert report.multiline == [7] and report.kept == 17
    assert "1 spanning several lines (lines 7-10)" in report.summary("c")


def test_line_endings_are_lf_and_crlf_only(tmp_path):
    for quoting in ("none", "csv"):
        path = rows_file(tmp_path / "c.tsv", {5: "first part\rsecond part\tl2"}, separator="\r\n")
        documents, report = read(path, quoting=quoting)
        assert report.kept == 20 and report.malformed == []
        assert documents.loc[documents["source_row"] == 5, "text"].item() == "first part\rsecond part"
        assert documents["label"].tolist()[0] == "l1"  # no '\r' left at the end of a row


def test_bytes_that_are_not_the_encoding_stop_with_file_line_and_byte(tmp_path):
    for name in ("c.tsv", "c.csv"):
        separator = "\t" if name.endswith("tsv") else ","
        path = tmp_path / name
        path.write_bytes(f"text{separator}label\nfine{separator}a\n".encode() + f"Caf\xe9 cr\xe8me{separator}b\n".encode("latin-1"))
        with pytest.raises(CorpusError, match=rf"{path}:3: byte 0xe9 at column 4 is not valid utf-8 .*set `encoding:`"):
            read_table(path)
        documents, _ = read(path, encoding="latin-1")
        assert documents["text"].tolist() == ["fine", "Café crème"]
    config = corpus_config(tmp_path, "c.tsv")
    (tmp_path / "data").mkdir()
    (tmp_path / "c.tsv").rename(tmp_path / "data" / "c.tsv")
    with pytest.raises(ConfigError, match=r"'corpora.mine': .*c.tsv:3: byte 0xe9 at column 4"):
        validate_config(config, SCHEMA, root=tmp_path)
    config["corpora"]["mine"]["encoding"] = "latin-1"
    validate_config(config, SCHEMA, root=tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "Caf\xe9", "label": "b"}'.encode("latin-1"), r"c.jsonl:3: byte 0xe9 at column 14 is not valid utf-8"),
        (b'{"text": "bad \\udcff escape", "label": "b"}', r"c.jsonl:3: a JSON string holds a lone surrogate \('\\udcff'\)"),
    ],
)
def test_jsonl_encoding_problems_are_named_at_validation(tmp_path, line, message):
    (tmp_path / "data").mkdir()
    good = [json.dumps({"text": f"document {i}", "label": "a"}).encode() for i in range(4)]
    (tmp_path / "data" / "c.jsonl").write_bytes(b"\n".join(good[:2] + [line] + good[2:]) + b"\n")
    with pytest.raises(ConfigError, match=r"'corpora.mine': .*" + message):
        validate_config(corpus_config(tmp_path, "c.jsonl"), SCHEMA, root=tmp_path)
    with pytest.raises(CorpusError, match=message):
        read_table(tmp_path / "data" / "c.jsonl")


def test_non_object_jsonl_lines_missing_labels_and_blank_texts_are_counted(tmp_path):
    lines = ['{"text": "one", "label": "a"}', "[1, 2]", '"a string"', '{"text": "  \\t ", "label": "b"}',
             '{"text": "two", "label": null}', '{"text": "three", "label": " "}', '{"text": "four", "label": "a"}']
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n")
    documents, report = read(path)
    assert report.malformed == [f"{path}:2: not a JSON object but an array", f"{path}:3: not a JSON object but a string"]
    assert report.malformed_lines == [2, 3]
    assert (report.rows_read, report.empty_text, report.missing_label, report.kept) == (7, 1, 2, 4)
    assert documents["text"].tolist() == ["one", "two", "three", "four"]


def test_too_few_fields_are_named_like_too_many(tmp_path):
    path = rows_file(tmp_path / "c.tsv", {4: "only one field", 9: "three\tfields\there"})
    documents, report = read(path)
    assert report.malformed == [f"{path}:4: 1 fields, header has 2", f"{path}:9: 3 fields, header has 2"]
    assert report.kept == 18 and 4 not in documents["source_row"].tolist()


# ---------------------------------------------------------------- degenerate corpora
def test_a_corpus_too_small_for_k_stops_before_any_job(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "one.tsv").write_text("text\tlabel\nthe only document\ta\n")
    config = corpus_config(tmp_path, "one.tsv")
    with pytest.raises(ConfigError, match=r"'corpora.mine': corpus 'mine' has 1 rows at most, too few for K = 2 "
                                          r"topics .*batch normalisation needs two.*smaller `run.num_topics`"):
        validate_config(config, SCHEMA, root=tmp_path)
    rows_file(tmp_path / "data" / "many.tsv")
    config = corpus_config(tmp_path, "many.tsv", sample=5)
    config["run"]["num_topics"] = [2, 10]
    with pytest.raises(ConfigError, match=r"corpus 'mine' has 5 rows at most, too few for K = 10"):
        validate_config(config, SCHEMA, root=tmp_path)
    # What validation cannot know (rows dropped later) is checked again by training, with the real count.
    with pytest.raises(CorpusError, match=r"corpus 'bbc' has 3 documents with a vocabulary word, too few for K = 5"):
        check_size(3, 5, "bbc", "documents with a vocabulary word")
    check_size(5, 5, "bbc")


def test_an_empty_vocabulary_names_the_corpus_and_the_filter():
    texts = ["The 42 and of it", "1999 2000", "  is was by  "]
    vocabulary = build_vocabulary([tokenize(t, 3) for t in texts], 100)
    assert vocabulary == []
    with pytest.raises(EmptyVocabularyError, match=r"corpus 'mine': none of its 3 documents .*filter = 'simple': "
                                                   r"alphabetic, not a stopword, at least 3 characters: "
                                                   r"vocabulary.min_word_length"):
        check_vocabulary(vocabulary, "mine", len(texts), 3, "simple")


def test_null_labels_leave_metrics_over_the_labelled_documents():
    labels = ["a", "a", None, "b", "", "b", float("nan")]
    theta = np.eye(2)[[0, 0, 1, 1, 0, 1, 0]]
    row = labelled_clustering_scores(labels, theta)
    keep = [0, 1, 3, 5]
    assert row["labelled_documents"] == 4
    assert row == {"labelled_documents": 4, **clustering_scores(np.asarray(labels, dtype=object)[keep], theta[keep])}
    assert row["purity"] == row["ari"] == 1.0
    assert labelled_clustering_scores([None, None], np.eye(2)) == {"labelled_documents": 0}


# ---------------------------------------------------------------- LM sources and the LM stage
def test_an_lm_source_on_disk_is_a_path_and_a_path_like_hub_id_gets_a_hint(tmp_path):
    (tmp_path / "models" / "SmolLM2-local").mkdir(parents=True)
    assert classify_source("models/SmolLM2-local", tmp_path) == "directory"
    assert classify_source("models/SmolLM2-typo", tmp_path) == "missing-path"
    assert classify_source("models/SmolLM2-typo", tmp_path / "models") == "hub"
    assert classify_source("a/b/c", tmp_path) == "missing-path"
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["run"]["lms"] = ["smollm2"]
    config["lms"]["smollm2"]["source"] = "models/SmolLM2-typo"
    with pytest.raises(ConfigError, match=r"'lms.smollm2.source' = 'models/SmolLM2-typo': no such directory .*"
                                          r"not a hub id, because the folder 'models/' exists here"):
        validate_config(config, SCHEMA, root=tmp_path)
    config["lms"]["smollm2"]["source"] = "models/SmolLM2-local"
    (tmp_path / "data" / "raw").mkdir(parents=True)
    assert validate_config(config, SCHEMA, root=tmp_path)["lms"]["smollm2"]["source"] == "models/SmolLM2-local"


def test_a_failed_acquisition_keeps_the_last_good_lm(tmp_path):
    from softtopic.lm import acquire_lm

    dest = tmp_path / "resources" / "lm" / "x"
    (dest / "model").mkdir(parents=True)
    (dest / "model" / "config.json").write_text("{}")
    (dest / "lm.json").write_text('{"kind": "gguf"}')
    with pytest.raises(FileNotFoundError, match="GGUF file .*missing.gguf does not exist"):
        acquire_lm(str(tmp_path / "missing.gguf"), dest)
    with pytest.raises(ModuleNotFoundError, match="not_a_package"):
        acquire_lm("pypi:not_a_package", dest)
    assert sorted(p.name for p in dest.iterdir()) == ["lm.json", "model"]
    assert (dest / "model" / "config.json").read_text() == "{}"


HOLD_LOCK = """
import sys, time
from pathlib import Path
from softtopic.lm import _prepare_shard_dir
lock = _prepare_shard_dir(Path(sys.argv[1]), "first")
print("locked", flush=True)
time.sleep(60)
"""


def test_one_writer_per_shard_directory(tmp_path):
    from softtopic.lm import _prepare_shard_dir

    shards = tmp_path / "shards"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(shards)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        (shards / "shard-00000.npz").write_bytes(b"finished")
        # A second extraction with other inputs would discard the shards: it must stop first, naming the PID.
        with pytest.raises(RuntimeError, match=rf"{shards} is being written by another LM extraction \(PID {holder.pid}\)"):
            _prepare_shard_dir(shards, "second")
        assert (shards / "shard-00000.npz").read_bytes() == b"finished"
    finally:
        holder.kill()
        holder.wait()
    lock = _prepare_shard_dir(shards, "first")  # the lock dies with its process
    assert (shards / "shard-00000.npz").exists()
    lock.close()


# ---------------------------------------------------------------- through Snakemake
def snakemake(workdir, *args):
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "1",
               *args]
    return subprocess.run(command, capture_output=True, text=True)


def test_a_yaml_syntax_error_in_one_of_two_configfiles_names_file_and_line(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("run:\n  seeds: [0]\n")
    bad.write_text("run:\n  seeds: [0\n  models: [lda]\n")
    result = snakemake(tmp_path, "--configfile", str(good), str(bad), "-n")
    assert result.returncode != 0
    assert f"Config file {bad}, line 3, column 9: expected ',' or ']'" in result.stdout + result.stderr


def test_the_console_shows_the_corpus_summary_and_the_vocabulary_error(tmp_path):
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    lines = ["text\tlabel", "The 42 and of it\ta", "1999 2000\tb", "bad\trow\there\ta", "  \ta", "1999 2000\tb"]
    (raw / "stop.tsv").write_text("\n".join(lines) + "\n")
    config = corpus_config(tmp_path, "raw/stop.tsv")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "results/mine/vocabulary/vocabulary.txt", "--configfile", str(config_path))
    console = result.stdout + result.stderr
    assert result.returncode != 0
    assert ("corpus mine: 5 rows read, 3 kept; 1 malformed (line 4), 1 empty, 1 duplicate texts, 0 without label, "
            "0 undecodable (utf-8); 6 lines = 1 header + 3 kept + 1 malformed + 1 empty text; line 4: 4 fields, "
            "header has 2; details: results/mine/corpus/report.json") in console
    report = json.loads((tmp_path / "results" / "mine" / "corpus" / "report.json").read_text())
    assert report["malformed"] == ["data/raw/stop.tsv:4: 4 fields, header has 2"]
    log = (tmp_path / "logs" / "mine" / "vocabulary.log").read_text()
    assert "EmptyVocabularyError: corpus 'mine': none of its 3 documents has a word that passes" in log
    assert "Error in rule build_vocabulary" in console and "none of its 3 documents" in console
    # the message alone (issue 19), not as the last line of a traceback: that is in the log
    assert "EmptyVocabularyError: corpus 'mine': none of its 3 documents" in console and "Traceback" not in console
    assert "Traceback (most recent call last)" in log
    assert not (tmp_path / "results/mine/vocabulary").exists()


def test_a_quote_inside_an_unquoted_csv_field_is_text(tmp_path):
    """Only a quote opening a field quotes (RFC 4180, and how Python's csv module reads it): the stray
    quotes of '5" screen' and 'more "x' are text, and no row swallows the next."""
    path = tmp_path / "c.csv"
    path.write_text('text,label\n5" screen,a\nnext row,b\nmore "x,c\nlast,d\n')
    documents, report = read(path)
    assert report.malformed == [] and report.multiline == []
    assert documents["text"].tolist() == ['5" screen', "next row", 'more "x', "last"]


# ---------------------------------------------------------------- issue 19: what a probe found
def test_a_runaway_csv_quote_names_its_whole_span_and_a_true_reason(tmp_path):
    """A quote opened on line 6 and closed only by the stray quote of '5" screen' on line 21 makes lines
    6-21 (16 of the 20 rows) one malformed record: the console line and report.json say so, and the line
    counts add up."""
    lines = ["text,label"] + [f"document {i} about the market and shares,l{i % 3}" for i in range(1, 21)]
    lines[5], lines[20] = '"an open quote in row 5,l0', 'a 5" screen,l1'
    path = tmp_path / "c.csv"
    path.write_text("\n".join(lines) + "\n")
    documents, report = read(path)
    reason = ("the quote opening field 1 on line 6 (column 1) closes on line 21 (column 4) and ' ' follows it "
              "where ',' or the end of the row must")
    summary = report.summary("c")
    assert summary.startswith("corpus c: 5 rows read, 4 kept; 1 malformed (lines 6-21)")
    assert "; 21 lines = 1 header + 4 kept + 16 malformed; lines 6-21: " + reason in summary
    written = tmp_path / "report.json"
    write_report(report, written)
    saved = json.loads(written.read_text())
    assert saved["malformed"] == [f"{path}:6: {reason} (lines 6-21)"]
    assert saved["lines"]["malformed"] == {"count": 16, "lines": "6-21"}
    assert saved["lines"]["kept"] == {"count": 4, "lines": "2-5"}
    assert documents["source_row"].tolist() == [2, 3, 4, 5]


def test_jsonl_values_that_are_not_strings_are_named_not_made_text(tmp_path):
    records = [{"text": 12345, "label": "a"}, {"text": ["a", "list"], "label": "a"},
               {"text": {"nested": 1}, "label": "a"}, {"text": True, "label": "a"}, {"label": "a"},
               {"text": "fine", "label": 3}, {"text": "also fine", "label": [1]}, {"text": "last", "label": "b"}]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    documents, report = read(path)
    assert documents["text"].tolist() == ["fine", "last"] and documents["label"].tolist() == ["3", "b"]
    assert report.malformed == [
        f"{path}:1: the text column 'text' holds a number (12345), not a string",
        f"{path}:2: the text column 'text' holds an array ([\"a\", \"list\"]), not a string",
        f"{path}:3: the text column 'text' holds an object ({{\"nested\": 1}}), not a string",
        f"{path}:4: the text column 'text' holds a boolean (true), not a string",
        f"{path}:5: no key 'text' (the text column)",
        f"{path}:7: the label column 'label' holds an array ([1]), not a string, integer or boolean",
    ]
    assert report.non_string_labels == 1 and "1 labels not strings (read as text)" in report.summary("c")
    assert "; 8 lines = 2 kept + 6 malformed;" in report.summary("c")


def test_jsonl_columns_are_the_keys_of_every_record(tmp_path):
    (tmp_path / "data").mkdir()
    records = [{"text": "first has no label"}] + [{"text": f"document {i}", "label": f"l{i % 2}"} for i in range(19)]
    (tmp_path / "data" / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    validate_config(corpus_config(tmp_path, "c.jsonl"), SCHEMA, root=tmp_path)
    documents, report = read(tmp_path / "data" / "c.jsonl")
    assert len(documents) == 20 and documents["label"].isna().tolist() == [True] + [False] * 19
    assert report.missing_label == 1
