"""The vocabulary's order: most frequent first, ties alphabetical, so that it is deterministic."""

from softtopic.vocabulary import build_vocabulary


def test_vocabulary_ties_are_alphabetical_most_frequent_first():
    tokens = [["pear", "fig", "kiwi", "apple"], ["kiwi", "fig", "date"], ["pear", "plum"]]
    # counts: fig 2, kiwi 2, pear 2, apple 1, date 1, plum 1
    assert build_vocabulary(tokens, 4) == ["fig", "kiwi", "pear", "apple"]
    assert build_vocabulary(tokens, 10) == ["fig", "kiwi", "pear", "apple", "date", "plum"]
