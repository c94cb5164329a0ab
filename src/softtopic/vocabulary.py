"""Word vocabulary and bag of words (SPEC §2).

Tokenisation follows the paper's filter without spaCy: lowercase, alphabetic runs only, not a
stopword (gensim's English list), longer than `min_length - 1` characters, no lemmatisation. The
vocabulary is the `size` most frequent words (ties broken alphabetically, so it is deterministic).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from gensim.parsing.preprocessing import STOPWORDS

_WORD = re.compile(r"[^\W\d_]+")


def tokenize(text: str, min_length: int = 3, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """Alphabetic, lowercase, non-stopword tokens of at least `min_length` characters."""
    return [w for w in _WORD.findall(text.lower()) if len(w) >= min_length and w not in stopwords]


def build_vocabulary(token_lists: Iterable[Sequence[str]], size: int) -> list[str]:
    """The `size` most frequent words, most frequent first, ties alphabetical."""
    counts = Counter(w for tokens in token_lists for w in tokens)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [word for word, _ in ranked[:size]]


class EmptyVocabularyError(ValueError):
    """No word of the corpus passes the filter."""


def check_vocabulary(vocabulary: Sequence[str], corpus: str, documents: int, min_length: int) -> None:
    """Raise, naming the corpus and the filter, when no word is left to model."""
    if not vocabulary:
        raise EmptyVocabularyError(
            f"corpus '{corpus}': none of its {documents} documents has a word that passes the vocabulary "
            f"filter (alphabetic, not a stopword, at least {min_length} characters: vocabulary.min_word_length), "
            "so there is nothing to model. Check the corpus's text_column, or lower vocabulary.min_word_length"
        )


def bag_of_words(token_lists: Sequence[Sequence[str]], vocabulary: Sequence[str]) -> sp.csr_matrix:
    """Documents x vocabulary count matrix (CSR, float32)."""
    index = {word: i for i, word in enumerate(vocabulary)}
    rows, cols = [], []
    for row, tokens in enumerate(token_lists):
        for word in tokens:
            column = index.get(word)
            if column is not None:
                rows.append(row)
                cols.append(column)
    data = np.ones(len(rows), dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(token_lists), len(vocabulary)))
    matrix.sum_duplicates()
    return matrix


def filter_to_vocabulary(token_lists: Iterable[Sequence[str]], vocabulary: Sequence[str]) -> list[list[str]]:
    """Each document's tokens restricted to the vocabulary, in order (the coherence reference)."""
    keep = set(vocabulary)
    return [[w for w in tokens if w in keep] for tokens in token_lists]
