"""A MediaWiki dump (``*.xml.bz2``, e.g. enwiki-latest-pages-articles.xml.bz2) as a coherence reference.

The dump is read with gensim's ``WikiCorpus``: articles of the main namespace, markup stripped by its
``filter_wiki``. Each article's text is then tokenised with the vocabulary's own filter (`vocabulary.filter`,
`vocabulary.min_word_length`), so that a word counts in the reference where it counts in the bag of words,
and articles with fewer than `min_tokens` such tokens (redirects, stubs) are left out, as ``WikiCorpus``
prunes them (gensim's default: 50). The tokens are written once, one article per line, and encoded per
corpus vocabulary like any other reference (``softtopic.metrics.coherence.Reference``).
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Iterator
from pathlib import Path

from softtopic.files import atomic_write

DUMP_SUFFIX = ".xml.bz2"


def is_dump(reference: str) -> bool:
    """Whether a `metrics.coherence_reference` value names a MediaWiki dump rather than a corpus."""
    return str(reference).endswith(DUMP_SUFFIX)


@functools.cache
def _release_pipeline():
    """One spaCy pipeline per process (WikiCorpus tokenises in worker processes)."""
    from softtopic.vocabulary import release_tokenizer

    return release_tokenizer()


def article_tokens(text: str, token_min_len: int, token_max_len: int, lower: bool, *, filter: str,
                   min_length: int) -> list[str]:
    """WikiCorpus's `tokenizer_func`: the vocabulary's filter; gensim's length and case options give way to it."""
    from softtopic.vocabulary import release_tokenize, tokenize_documents

    if filter == "release":
        return release_tokenize([text], min_length, nlp=_release_pipeline())[0]
    return tokenize_documents([text], filter, min_length)[0]


def dump_token_lists(path: str | Path, filter: str, min_length: int, min_tokens: int = 50,
                     processes: int = 1) -> Iterator[list[str]]:
    """Each main-namespace article of the dump with at least `min_tokens` tokens, as its filtered tokens."""
    from gensim.corpora import Dictionary, WikiCorpus

    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such MediaWiki dump (metrics.coherence_reference)")
    corpus = WikiCorpus(
        str(path),
        processes=processes,
        dictionary=Dictionary(),  # given, so that WikiCorpus does not scan the dump for a vocabulary
        tokenizer_func=functools.partial(article_tokens, filter=filter, min_length=min_length),
        article_min_tokens=min_tokens,
    )
    yield from corpus.get_texts()


def write_token_lines(token_lists, path: str | Path) -> int:
    """Write one document per line, tokens separated by spaces (gzip when the path ends in .gz); returns
    the number of documents."""
    opener = gzip.open if str(path).endswith(".gz") else open
    count = 0
    with atomic_write(path) as tmp, opener(tmp, "wt", encoding="utf-8") as handle:
        for tokens in token_lists:
            handle.write(" ".join(tokens) + "\n")
            count += 1
    return count


def read_token_lines(path: str | Path) -> Iterator[list[str]]:
    """The documents that `write_token_lines` wrote, streamed."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield line.split()
