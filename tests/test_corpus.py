import json

import pandas as pd
import pytest

from softtopic.corpus import CorpusError, prepare_corpus, read_table, subsample, table_columns
from softtopic.vocabulary import bag_of_words, build_vocabulary, tokenize

from conftest import shared_dataset_path


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_malformed_rows_are_named_by_file_and_line(tmp_path):
    path = write(tmp_path / "c.tsv", "text\tlabel\nfirst doc\ta\nbroken\trow\textra\n\tb\nfirst doc\ta\nlast one\tc\n")
    frame, report = read_table(path)
    documents = prepare_corpus(frame, report, "text", "label")
    assert report.malformed == [f"{path}:3: 3 fields, header has 2"]
    assert report.empty_text == 1 and report.duplicate_texts == 1
    assert documents["text"].tolist() == ["first doc", "first doc", "last one"]
    assert documents["source_row"].tolist() == [2, 5, 6]
    assert documents["doc_id"].tolist() == [0, 1, 2]
    assert report.as_dict()["documents_kept"] == 3


def test_duplicates_can_be_dropped_and_are_still_counted(tmp_path):
    path = write(tmp_path / "c.csv", 'body,topic\n"a, quoted",x\n"a, quoted",x\nother,y\n')
    frame, report = read_table(path)
    documents = prepare_corpus(frame, report, "body", "topic", drop_duplicates=True)
    assert documents["text"].tolist() == ["a, quoted", "other"]
    assert report.duplicate_texts == report.dropped_duplicates == 1


def test_jsonl_parquet_and_unlabelled(tmp_path):
    jsonl = write(tmp_path / "c.jsonl", json.dumps({"text": "one", "label": 1}) + "\n{not json\n"
                  + json.dumps({"text": "two", "label": 2}) + "\n")
    frame, report = read_table(jsonl)
    assert len(report.malformed) == 1 and report.malformed[0].startswith(f"{jsonl}:2:")
    documents = prepare_corpus(frame, report, "text", None)
    assert documents["label"].isna().all()
    parquet = tmp_path / "c.parquet"
    pd.DataFrame({"t": ["x", "y"], "l": ["a", "b"]}).to_parquet(parquet)
    assert table_columns(parquet) == ["t", "l"]
    frame, report = read_table(parquet)
    assert prepare_corpus(frame, report, "t", "l")["label"].tolist() == ["a", "b"]


def test_unknown_column_and_format_are_explained(tmp_path):
    path = write(tmp_path / "c.tsv", "text\tlabel\nx\ty\n")
    frame, report = read_table(path)
    with pytest.raises(CorpusError, match=r"column 'body' is not in .*columns there: \['text', 'label'\]"):
        prepare_corpus(frame, report, "body", "label")
    with pytest.raises(CorpusError, match="set `format:`"):
        read_table(write(tmp_path / "c.xlsx", ""))


def test_subsample_is_deterministic_and_ordered():
    documents = pd.DataFrame({"doc_id": range(10), "text": list("abcdefghij")})
    first, second = subsample(documents, 4, seed=1), subsample(documents, 4, seed=1)
    assert first.equals(second) and first["doc_id"].tolist() == [0, 1, 2, 3]
    assert list(first["text"]) == sorted(first["text"])


def test_stackoverflow_quoted_tab_row_parses():
    """The paper's file quotes fields the CSV way (one title holds a tab): read with `quoting: csv`, every
    row is kept; read by default (no quote processing), that row is named with the hint to set it."""
    path = shared_dataset_path("stackoverflow.tsv")
    frame, report = read_table(path, quoting="csv")
    documents = prepare_corpus(frame, report, "text", "label")
    assert report.rows_read == report.kept == len(documents) == 20000 and report.malformed == []
    row = frame[frame["source_row"] == 10345].iloc[0]
    assert "\t" in row["text"] and row["text"].startswith('Phonon VideoWidget error: "the video widget')
    assert 'How to "unversion" a file in either svn and/or git' in set(documents["text"])
    frame, report = read_table(path)
    assert report.rows_read == 20000 and len(frame) == 19999
    assert report.malformed == [f"{path}:10345: 3 fields, header has 2; it starts with a quote: "
                                "if the file quotes fields, set `quoting: csv`"]
    assert report.quoted_looking == 624


def test_vocabulary_filter_and_bow():
    tokens = [tokenize(t) for t in ["The cats and the dogs run!", "Cats sleep; dogs 42 bark, cats purr."]]
    assert tokens[0] == ["cats", "dogs", "run"]
    vocabulary = build_vocabulary(tokens, 2)
    assert vocabulary == ["cats", "dogs"]
    bow = bag_of_words(tokens, vocabulary).toarray()
    assert bow.tolist() == [[1, 1], [2, 1]]
