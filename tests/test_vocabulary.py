"""The release's token filter (spaCy blank English + sentencizer) on hand-made sentences."""

import pytest

from softtopic.vocabulary import release_tokenize, tokenize_documents


def test_release_filter_keeps_exactly_the_expected_words():
    texts = [
        "Python lists are slow. Sorting them takes time in python.",
        "sorting works fine. arrays fail! Why? numpy wouldn't go to utf8 files",
    ]
    assert release_tokenize(texts) == [
        # "Python" is capitalised, "Sorting" starts a sentence, "are", "them", "in" are stopwords.
        ["lists", "slow", "takes", "time", "python"],
        # "sorting", "arrays", "numpy" start sentences; "go" is too short; "utf8" is not alphabetic;
        # "would" is a stopword and "n't" not alphabetic; "fine" is kept.
        ["works", "fine", "fail", "files"],
    ]


def test_filters_differ_where_the_release_is_stricter():
    text = ["Python lists are slow."]
    assert tokenize_documents(text, "simple") == [["python", "lists", "slow"]]
    assert tokenize_documents(text, "release") == [["lists", "slow"]]
    assert release_tokenize(["the cats sit"], min_length=4) == [["cats"]]
    with pytest.raises(ValueError, match="unknown vocabulary filter 'nltk'"):
        tokenize_documents(text, "nltk")
