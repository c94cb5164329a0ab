"""The topic browser: one self-contained HTML page per corpus (inline CSS and JS, the data embedded as
JSON; no server, no network), built from each run's readable topics (:mod:`softtopic.topics`).

What the page holds, kept small so that 20,000 documents open fast:

- the documents once for all runs: id, text cut to one line of `text_chars`, gold label (an index);
- per run: each topic's label, top words and weights, size, coherence, dominant gold label, its
  representative documents and its position on the intertopic map; and theta stored compactly: each
  document's `entries` largest weights as (topic, round(255 * theta)) byte pairs, base64-encoded.

The intertopic map places topics by classical multidimensional scaling (principal coordinates) of the
Jensen-Shannon distances between their word distributions (rows of beta).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from importlib.resources import files

import numpy as np
import pandas as pd

from softtopic.output import ModelOutput
from softtopic.topics import Topic, has_label, one_line, run_title

TEMPLATE = "topic_browser.html"
DATA_MARK = "/*DATA*/"


def js_distances(beta: np.ndarray) -> np.ndarray:
    """K x K Jensen-Shannon distances (square root of the divergence, base 2: in [0, 1]) between rows."""
    p = np.asarray(beta, dtype=np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    logp = np.log2(np.where(p > 0, p, 1.0))
    entropy = -(p * logp).sum(axis=1)  # H(p_i)
    k = len(p)
    divergence = np.zeros((k, k))
    for i in range(k):
        m = (p[i] + p) / 2
        entropy_m = -(m * np.log2(np.where(m > 0, m, 1.0))).sum(axis=1)
        divergence[i] = entropy_m - (entropy[i] + entropy) / 2
    divergence = np.clip((divergence + divergence.T) / 2, 0.0, 1.0)
    np.fill_diagonal(divergence, 0.0)
    return np.sqrt(divergence)


def principal_coordinates(distances: np.ndarray, dims: int = 2) -> np.ndarray:
    """Classical MDS: K x dims coordinates whose Euclidean distances best match `distances`. Each axis's
    sign is fixed (its largest coordinate in absolute value is positive) so the map does not flip."""
    d = np.asarray(distances, dtype=np.float64)
    k = len(d)
    centring = np.eye(k) - 1.0 / k
    gram = -0.5 * centring @ (d**2) @ centring
    values, vectors = np.linalg.eigh(gram)
    top = np.argsort(values)[::-1][:dims]
    coords = vectors[:, top] * np.sqrt(np.clip(values[top], 0.0, None))
    if coords.shape[1] < dims:
        coords = np.pad(coords, ((0, 0), (0, dims - coords.shape[1])))
    signs = np.sign(coords[np.abs(coords).argmax(axis=0), np.arange(dims)])
    return coords * np.where(signs == 0, 1.0, signs)


def compact_theta(theta: np.ndarray, rows: np.ndarray, num_documents: int, entries: int) -> bytes:
    """Each of `num_documents` page documents' `entries` largest theta weights, largest first, as
    (topic, round(255 * weight)) byte pairs; `rows[i]` is the page document of theta's row i. A weight
    that rounds to 0, and every entry of a document the run left out, is (0, 0)."""
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape[1] > 256:
        raise ValueError(f"the browser stores a topic number in one byte: {theta.shape[1]} topics are too many")
    entries = min(entries, theta.shape[1])
    top = np.argsort(-theta, axis=1, kind="stable")[:, :entries]
    weights = np.rint(np.take_along_axis(theta, top, axis=1) * 255).astype(np.uint8)
    packed = np.zeros((num_documents, entries, 2), dtype=np.uint8)
    packed[rows, :, 0] = np.where(weights > 0, top, 0)
    packed[rows, :, 1] = weights
    return packed.tobytes()


def _round(values: Sequence[float], digits: int = 4) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in values]


def run_data(run: str, output: ModelOutput, topics: Sequence[Topic], position: dict[int, int],
             entries: int, labeller: str = "") -> dict:
    """One run's part of the page. `position` maps prepared-corpus rows to page documents."""
    coords = principal_coordinates(js_distances(output.beta))
    rows = np.asarray([position[int(r)] for r in output.doc_index], dtype=np.int64)
    theta = compact_theta(output.theta, rows, len(position), entries)
    return {
        "name": run,
        "title": run_title(output.config),
        "labeller": labeller,
        "entries": min(entries, output.num_topics),
        "topics": [
            {
                "n": t.number,
                "label": t.label,
                "words": t.words,
                "weights": _round(t.weights),
                "size": round(t.size, 4),
                "coherence": {m: round(v, 4) for m, v in t.coherence.items()},
                "gold": t.gold_label,
                "gold_share": None if t.gold_share is None else round(t.gold_share, 4),
                "docs": [position[r] for r in t.documents],
                "x": round(float(coords[t.number, 0]), 4),
                "y": round(float(coords[t.number, 1]), 4),
            }
            for t in topics
        ],
        "theta": base64.b64encode(theta).decode("ascii"),
    }


def page_documents(documents: pd.DataFrame, rows: Sequence[int], text_chars: int) -> tuple[dict, list[str]]:
    """The page's documents (prepared-corpus `rows`, in order): ids, one-line texts, gold label indices
    (-1: none), and the sorted gold labels."""
    chosen = documents.iloc[list(rows)]
    labels = chosen["label"].to_numpy(dtype=object) if "label" in chosen else np.full(len(chosen), None)
    real = has_label(labels)
    names = sorted({str(x).strip() for x, r in zip(labels, real) if r})
    index = {name: i for i, name in enumerate(names)}
    return {
        "id": [str(x) for x in chosen["doc_id"]],
        "text": [one_line(t, text_chars) for t in chosen["text"]],
        "label": [index[str(x).strip()] if r else -1 for x, r in zip(labels, real)],
    }, names


def render_page(corpus: str, documents: dict, labels: list[str], runs: list[dict]) -> str:
    """The HTML page: the template with the data embedded as JSON ('<' escaped, so no text can close
    the script element)."""
    data = {"corpus": corpus, "labels": labels, "docs": documents, "runs": runs}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    template = files("softtopic").joinpath(TEMPLATE).read_text(encoding="utf-8")
    head, tail = template.split(DATA_MARK)
    return head + text + tail
