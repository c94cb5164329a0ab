"""The vocabulary: the release's token filter (spaCy blank English + sentencizer) on hand-made sentences,
its order (most frequent first, ties alphabetical), and word2vec rows."""

import numpy as np
import pytest

from softtopic.vocabulary import build_vocabulary, release_tokenize, tokenize_documents


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


def test_word2vec_rows_follow_the_vocabulary_and_the_seed():
    from softtopic.embeddings import train_word_vectors

    sentences = [["java", "string", "split"], ["python", "list", "sort"], ["java", "list"]] * 20
    vocabulary = ["list", "java", "python", "string", "split", "sort"]
    first = train_word_vectors(sentences, vocabulary, dimensions=8, epochs=2, seed=1)
    assert first.shape == (6, 8) and first.dtype == np.float32
    np.testing.assert_array_equal(first, train_word_vectors(sentences, vocabulary, dimensions=8, epochs=2, seed=1))
    assert not np.array_equal(first, train_word_vectors(sentences, vocabulary, dimensions=8, epochs=2, seed=2))
    with pytest.raises(ValueError, match="never occur"):
        train_word_vectors(sentences, vocabulary + ["rust"], dimensions=8, epochs=1)


def test_vocabulary_ties_are_alphabetical_most_frequent_first():
    tokens = [["pear", "fig", "kiwi", "apple"], ["kiwi", "fig", "date"], ["pear", "plum"]]
    # counts: fig 2, kiwi 2, pear 2, apple 1, date 1, plum 1
    assert build_vocabulary(tokens, 4) == ["fig", "kiwi", "pear", "apple"]
    assert build_vocabulary(tokens, 10) == ["fig", "kiwi", "pear", "apple", "date", "plum"]
