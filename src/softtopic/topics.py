"""Readable topics: what a person needs to read one run's topics, from its output.npz (the model-output
contract), the prepared corpus and the run's per-topic coherence.

Each topic keeps the model's own number (its row of beta, its column of theta) everywhere: nothing here
reorders topics. A topic's size is its share of documents by argmax theta; its representative documents
are those with the highest theta for it; its dominant gold label is the most frequent label among the
documents assigned to it by argmax.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from softtopic.output import ModelOutput


@dataclass
class Topic:
    number: int
    words: list[str]
    weights: list[float]
    size: float
    documents: list[int]  # rows of the prepared corpus, best first
    coherence: dict[str, float] = field(default_factory=dict)
    gold_label: str | None = None
    gold_share: float | None = None
    label: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def one_line(text: str, width: int) -> str:
    """`text` on one line (whitespace runs become one space), cut to at most `width` characters with '…'."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: max(width - 1, 0)].rstrip() + "…"


def topic_sizes(theta: np.ndarray) -> np.ndarray:
    """Each topic's share of the documents whose argmax theta it is."""
    counts = np.bincount(np.asarray(theta).argmax(axis=1), minlength=theta.shape[1])
    return counts / max(len(theta), 1)


def representative_rows(theta: np.ndarray, n: int) -> np.ndarray:
    """K x n: for each topic the theta rows with its highest weight, best first (ties by row order)."""
    order = np.argsort(-np.asarray(theta), axis=0, kind="stable")
    return order[:n].T


def has_label(labels: Sequence) -> np.ndarray:
    """Which labels are real (not None, NaN or blank)."""
    series = pd.Series(labels, dtype=object)
    return (series.notna() & (series.astype(str).str.strip() != "")).to_numpy()


def dominant_labels(theta: np.ndarray, labels: Sequence) -> list[tuple[str | None, float | None]]:
    """Per topic (dominant gold label, its share) among the labelled documents assigned to the topic by
    argmax; (None, None) for a topic with no labelled document."""
    real = has_label(labels)
    labels = pd.Series(labels, dtype=object).astype(str).str.strip().to_numpy(dtype=object)
    assigned = np.asarray(theta).argmax(axis=1)
    result = []
    for k in range(theta.shape[1]):
        mine = labels[(assigned == k) & real]
        if not len(mine):
            result.append((None, None))
            continue
        values, counts = np.unique(mine.astype(str), return_counts=True)
        best = int(np.argmax(counts))  # np.unique sorts, so ties go to the alphabetically first label
        result.append((str(values[best]), float(counts[best] / len(mine))))
    return result


def summarise(output: ModelOutput, documents: pd.DataFrame, coherence: dict | None = None,
              words: int = 10, representatives: int = 3) -> list[Topic]:
    """The run's topics in the model's order: top words with their weights, size, representative
    documents (rows of `documents`, the prepared corpus), per-topic coherence and, when the corpus has
    labels, the dominant gold label and its share."""
    beta, theta = output.beta, output.theta
    top = np.argsort(-beta, axis=1, kind="stable")[:, :words]
    sizes = topic_sizes(theta)
    rows = np.asarray(output.doc_index)[representative_rows(theta, representatives)]
    per_topic = (coherence or {}).get("per_topic", {})
    labels = documents["label"].iloc[output.doc_index].to_numpy(dtype=object) if "label" in documents else None
    gold = dominant_labels(theta, labels) if labels is not None and has_label(labels).any() else None
    topics = []
    for k in range(output.num_topics):
        topics.append(Topic(
            number=k,
            words=[output.vocabulary[j] for j in top[k]],
            weights=[float(beta[k, j]) for j in top[k]],
            size=float(sizes[k]),
            documents=[int(r) for r in rows[k]],
            coherence={m: float(scores[k]) for m, scores in per_topic.items()},
            gold_label=gold[k][0] if gold else None,
            gold_share=gold[k][1] if gold else None,
        ))
    return topics


def read_labels(path: str | None) -> dict:
    """labels.json (per run: the labeller and one label per topic), or {} without one (labelling off)."""
    if not path:
        return {}
    with open(path) as handle:
        return json.load(handle)


def labelled(topics: list[Topic], named: dict | None) -> list[Topic]:
    """`topics` with the labels of one run's entry of labels.json ({"labeller", "labels"}) filled in."""
    if named:
        for topic, label in zip(topics, named["labels"], strict=True):
            topic.label = label
    return topics


MEASURE_NAMES = {"c_v": "C_V", "c_npmi": "NPMI", "u_mass": "UMass", "c_uci": "UCI"}


def run_title(config: dict) -> str:
    """A run's name for people, from its output.npz config: 'dsl (gemma270m, tau 3) K10 seed 0'."""
    extra = [x for x in (config.get("lm"), None if config.get("tau") is None else f"tau {config['tau']:g}") if x]
    return (f"{config.get('model', '?')}{' (' + ', '.join(extra) + ')' if extra else ''} "
            f"K{config.get('num_topics', '?')} seed {config.get('seed', '?')}")


def render_markdown(run: str, config: dict, topics: Sequence[Topic], documents: pd.DataFrame,
                    width: int = 160, labeller: str = "") -> str:
    """One run's topics as Markdown: a section per topic, in the model's order, each representative
    document as its doc_id and its text on one line (`documents`: the prepared corpus)."""
    lines = [f"# Topics of {run_title(config)}", "", f"Run `{run}` on corpus `{config.get('corpus', '?')}`: "
             f"{len(topics)} topics, numbered as in the model (rows of beta, columns of theta). Size: share of "
             "documents whose largest theta is the topic."]
    if labeller:
        lines.append(f"Labels: {labeller}.")
    for topic in topics:
        lines += ["", f"## Topic {topic.number}: {topic.label or ' '.join(topic.words[:3])}", ""]
        facts = [f"size {topic.size:.1%}"]
        facts += [f"{MEASURE_NAMES.get(m, m)} {v:.3f}" for m, v in topic.coherence.items()]
        if topic.gold_label is not None:
            facts.append(f"gold label {topic.gold_label} ({topic.gold_share:.0%} of its documents)")
        lines += ["- " + "; ".join(facts),
                  "- words: " + ", ".join(f"{w} ({p:.3g})" for w, p in zip(topic.words, topic.weights)),
                  "- representative documents:"]
        lines += [f"  - `{documents['doc_id'].iloc[row]}` {one_line(documents['text'].iloc[row], width)}"
                  for row in topic.documents]
    return "\n".join(lines) + "\n"
