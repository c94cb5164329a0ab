"""Word vocabulary and bag of words (SPEC §2).

Two token filters (`vocabulary.filter`):

- ``release`` (default), as the authors' release builds it: spaCy tokens kept when alphabetic,
  already lowercase (capitalised tokens are dropped, not lowercased), not sentence-initial, not a
  spaCy stopword and at least `min_length` characters long. The release parsed with
  ``en_core_web_lg``; here sentence starts come from spaCy's rule-based ``sentencizer`` on
  ``spacy.blank("en")`` (same tokenizer rules and lexical attributes, no statistical model).
- ``simple``: lowercase, alphabetic runs only, not a stopword (gensim's English list), at least
  `min_length` characters.

No lemmatisation. The vocabulary is the `size` most frequent words (ties broken alphabetically, so it
is deterministic).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from gensim.parsing.preprocessing import STOPWORDS

from softtopic.errors import UserError

_WORD = re.compile(r"[^\W\d_]+")


def tokenize(text: str, min_length: int = 3, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """Alphabetic, lowercase, non-stopword tokens of at least `min_length` characters."""
    return [w for w in _WORD.findall(text.lower()) if len(w) >= min_length and w not in stopwords]


def release_tokenizer():
    """spaCy's blank English pipeline with the rule-based sentencizer (no model download)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def release_tokenize(texts: Iterable[str], min_length: int = 3, nlp=None) -> list[list[str]]:
    """The release's filter: alphabetic, lowercase as written, not sentence-initial, not a stopword,
    at least `min_length` characters."""
    nlp = nlp or release_tokenizer()
    return [
        [t.text for t in doc if t.is_alpha and t.is_lower and not t.is_sent_start and not t.is_stop
         and len(t.text) >= min_length]
        for doc in nlp.pipe(texts, batch_size=256)
    ]


FILTERS = {
    "release": "alphabetic, lowercase as written, not sentence-initial, not a spaCy stopword",
    "simple": "alphabetic, not a stopword",
}


def tokenize_documents(texts: Iterable[str], filter: str = "release", min_length: int = 3) -> list[list[str]]:
    """Each text's tokens under the named filter (`FILTERS`)."""
    if filter == "release":
        return release_tokenize(texts, min_length)
    if filter == "simple":
        return [tokenize(text, min_length) for text in texts]
    raise ValueError(f"unknown vocabulary filter '{filter}'; known: {list(FILTERS)}")


def build_vocabulary(token_lists: Iterable[Sequence[str]], size: int) -> list[str]:
    """The `size` most frequent words, most frequent first, ties alphabetical."""
    counts = Counter(w for tokens in token_lists for w in tokens)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [word for word, _ in ranked[:size]]


class EmptyVocabularyError(UserError, ValueError):
    """No word of the corpus passes the filter."""


def check_vocabulary(vocabulary: Sequence[str], corpus: str, documents: int, min_length: int,
                     filter: str = "release") -> None:
    """Raise, naming the corpus and the filter, when no word is left to model."""
    if not vocabulary:
        raise EmptyVocabularyError(
            f"corpus '{corpus}': none of its {documents} documents has a word that passes the vocabulary "
            f"filter (vocabulary.filter = '{filter}': {FILTERS[filter]}, at least {min_length} characters: "
            "vocabulary.min_word_length), "
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
    """Each document's tokens restricted to the vocabulary, in order (the texts the sentence encoder, BERTopic
    and word2vec read)."""
    keep = set(vocabulary)
    return [[w for w in tokens if w in keep] for tokens in token_lists]
