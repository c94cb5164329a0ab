"""The model-output file: the one contract between training and every metric (OCTIS-style).

``output.npz`` holds ``theta`` (documents x K, rows sum to 1), ``beta`` (K x |V|, rows sum to 1),
``topics`` (K x top-n words), ``doc_index`` (the rows of the prepared corpus that theta covers),
``vocabulary``, ``history`` (training loss per epoch) and ``config`` (JSON: what produced it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from softtopic.files import atomic_write


@dataclass
class ModelOutput:
    theta: np.ndarray
    beta: np.ndarray
    doc_index: np.ndarray
    vocabulary: list[str]
    config: dict = field(default_factory=dict)
    history: list[float] = field(default_factory=list)
    top_n: int = 15

    def __post_init__(self):
        if self.theta.shape[1] != self.beta.shape[0]:
            raise ValueError(f"theta has {self.theta.shape[1]} topics, beta {self.beta.shape[0]}")
        if self.beta.shape[1] != len(self.vocabulary):
            raise ValueError(f"beta has {self.beta.shape[1]} words, vocabulary {len(self.vocabulary)}")
        if len(self.doc_index) != self.theta.shape[0]:
            raise ValueError(f"theta covers {self.theta.shape[0]} documents, doc_index {len(self.doc_index)}")

    @property
    def num_topics(self) -> int:
        return self.beta.shape[0]

    def top_words(self, n: int | None = None) -> list[list[str]]:
        """The `n` highest-weight words of each topic, best first."""
        n = n or self.top_n
        order = np.argsort(-self.beta, axis=1, kind="stable")[:, :n]
        return [[self.vocabulary[j] for j in row] for row in order]

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            np.savez_compressed(
                tmp,
                theta=self.theta.astype(np.float32),
                beta=self.beta.astype(np.float32),
                topics=np.asarray(self.top_words(), dtype=str),
                doc_index=np.asarray(self.doc_index, dtype=np.int64),
                vocabulary=np.asarray(self.vocabulary, dtype=str),
                history=np.asarray(self.history, dtype=np.float64),
                config=np.asarray(json.dumps(self.config, sort_keys=True)),
            )

    @classmethod
    def load(cls, path: str | Path) -> "ModelOutput":
        with np.load(path, allow_pickle=False) as data:
            return cls(
                theta=data["theta"],
                beta=data["beta"],
                doc_index=data["doc_index"],
                vocabulary=[str(w) for w in data["vocabulary"]],
                config=json.loads(str(data["config"])),
                history=data["history"].tolist(),
                top_n=data["topics"].shape[1],
            )
