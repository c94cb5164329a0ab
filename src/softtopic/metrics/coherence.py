"""Topic coherence with gensim (C_V and NPMI) against a reference corpus (SPEC §5).

The paper used Palmetto over Wikipedia; here the reference corpus is named in the config (default:
the corpus itself, tokenised and filtered to the vocabulary). Values are comparable between models
scored against the same reference, not with the paper's.
"""

from __future__ import annotations

from collections.abc import Sequence

from gensim.corpora import Dictionary
from gensim.models.coherencemodel import CoherenceModel


def coherence(
    topics: Sequence[Sequence[str]],
    texts: Sequence[Sequence[str]],
    measures: Sequence[str] = ("c_v", "c_npmi"),
    dictionary: Dictionary | None = None,
) -> dict[str, float]:
    """Mean coherence over topics for each gensim measure (C_V uses a boolean sliding window of 110)."""
    dictionary = dictionary or Dictionary(texts)
    topics = [list(t) for t in topics]
    scores = {}
    for measure in measures:
        model = CoherenceModel(
            topics=topics, texts=texts, dictionary=dictionary, coherence=measure, topn=len(topics[0]), processes=1
        )
        scores[measure] = float(model.get_coherence())
    return scores
