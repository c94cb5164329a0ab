"""Topic coherence (C_V, NPMI, UCI, UMass) against a reference corpus, exact and fast (SPEC §5).

The paper used Palmetto over Wikipedia; here the reference corpus is named in the config (default:
the corpus itself, tokenised and filtered to the vocabulary). Values are comparable between models
scored against the same reference, not with the paper's.

The numbers are gensim's ``CoherenceModel`` numbers, computed another way:

- the reference is encoded once per (reference corpus, vocabulary) into a :class:`Reference`: the
  documents' lengths and, for every vocabulary word, the sorted positions of its tokens;
- gensim's boolean sliding window (``WordOccurrenceAccumulator``) is reproduced exactly, including its
  incremental update: when a token leaves the window, its word is marked absent even if the word
  occurs again inside the window, until that word next enters at the window's right edge. A
  document shorter than the window is one window; an empty document still counts as one window.
  Each word's presence is a union of window intervals, computed for all topic words at once;
- a pair's co-occurrence is the overlap of the two words' interval sets, computed for every pair of
  words of the same topic at once (a topic needs no other pair);
- the confirmation measures follow gensim's formulas and floating-point order.

Topic words that the reference never contains are left out of their topic, as gensim does, but
counted and returned (``missing``) so that the caller reports them.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from softtopic.files import atomic_write

EPSILON = 1e-12  # gensim.topic_coherence.direct_confirmation_measure.EPSILON
# gensim's default window per measure (CoherenceModel.SLIDING_WINDOW_SIZES); None: whole documents.
WINDOW_SIZES = {"c_v": 110, "c_npmi": 10, "c_uci": 10, "u_mass": None}


@dataclass
class Reference:
    """A tokenised reference corpus restricted to a vocabulary, indexed by word."""

    vocabulary: list[str]
    doc_lengths: np.ndarray  # tokens per document (in-vocabulary tokens only)
    word_ptr: np.ndarray  # word w's tokens are positions[word_ptr[w]:word_ptr[w + 1]]
    positions: np.ndarray  # global token positions (document starts at cumsum of lengths), sorted per word

    @classmethod
    def encode(cls, token_lists: Iterable[Sequence[str]], vocabulary: Sequence[str]) -> "Reference":
        """Keep the tokens that are in `vocabulary` (in order) and index them by word. `token_lists` may be
        a stream (a Wikipedia dump's articles): only the kept ids are held, 8 bytes each."""
        index = {word: i for i, word in enumerate(vocabulary)}
        ids, lengths = array("q"), array("q")
        for tokens in token_lists:
            kept = [index[w] for w in tokens if w in index]
            ids.extend(kept)
            lengths.append(len(kept))
        ids = np.frombuffer(ids, dtype=np.int64) if ids else np.zeros(0, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        word_ptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(ids, minlength=len(vocabulary)), out=word_ptr[1:])
        return cls(list(vocabulary), np.array(lengths, dtype=np.int64), word_ptr, order.astype(np.int64))

    @property
    def num_docs(self) -> int:
        return len(self.doc_lengths)

    def token_counts(self) -> np.ndarray:
        return np.diff(self.word_ptr)

    def save(self, path: str | Path) -> None:
        with atomic_write(path) as tmp:
            np.savez_compressed(
                tmp,
                vocabulary=np.asarray(self.vocabulary, dtype=str),
                doc_lengths=self.doc_lengths,
                word_ptr=self.word_ptr,
                positions=self.positions,
            )

    @classmethod
    def load(cls, path: str | Path) -> "Reference":
        with np.load(path, allow_pickle=False) as data:
            return cls(
                [str(w) for w in data["vocabulary"]], data["doc_lengths"], data["word_ptr"], data["positions"]
            )


def _ragged_arange(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + n) for each (s, n)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return shift + np.arange(total, dtype=np.int64)


@dataclass
class Presence:
    """Each word's windows as sorted disjoint intervals [start, end) of global window numbers."""

    starts: np.ndarray
    ends: np.ndarray
    ptr: np.ndarray  # intervals of the i-th word: ptr[i]:ptr[i + 1]
    cumlen: np.ndarray  # cumlen[k]: total length of intervals 0..k-1 (all words, in order)
    num_windows: int

    def counts(self) -> np.ndarray:
        """Windows that contain each word."""
        return self.cumlen[self.ptr[1:]] - self.cumlen[self.ptr[:-1]]


def presence(reference: Reference, word_ids: np.ndarray, window: int | None) -> Presence:
    """The windows in which each of `word_ids` is present, by gensim's sliding-window rule.

    A document of length L has max(1, L - window + 1) windows (window None: one per document). An
    occurrence at position o enters at window a = max(0, o - window + 1); the word stays present
    until the first window after a from which one of its occurrences o' >= a has slid out (window
    o' + 1), or until the document ends.
    """
    lengths = reference.doc_lengths
    per_doc = np.ones_like(lengths) if window is None else np.maximum(1, lengths - window + 1)
    doc_token_start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    doc_window_start = np.concatenate([[0], np.cumsum(per_doc)[:-1]])
    num_windows = int(per_doc.sum())

    firsts, counts = reference.word_ptr[word_ids], np.diff(reference.word_ptr)[word_ids]
    rows = _ragged_arange(firsts, counts)
    owner = np.repeat(np.arange(len(word_ids)), counts)
    position = reference.positions[rows]  # global token positions, sorted within each word
    doc = np.searchsorted(doc_token_start, position, side="right") - 1
    offset = position - doc_token_start[doc]
    if window is None:
        enter = np.zeros_like(offset)
        leave = np.ones_like(offset)
    else:
        enter = np.maximum(0, offset - window + 1)
        # first occurrence of the same word, same document, at or after `enter`: its exit ends the run
        key = owner * (int(lengths.sum()) + 1) + position
        first = np.searchsorted(key, owner * (int(lengths.sum()) + 1) + doc_token_start[doc] + enter)
        leave = np.minimum(offset[first] + 1, per_doc[doc])
    start = doc_window_start[doc] + enter
    end = doc_window_start[doc] + leave
    # starts and ends are non-decreasing within a word: merging with the previous interval is enough
    previous_end = np.concatenate([[-1], end[:-1]])
    same_word = np.concatenate([[False], owner[1:] == owner[:-1]])
    start = np.where(same_word, np.maximum(start, previous_end), start)
    keep = start < end
    start, end, owner = start[keep], end[keep], owner[keep]
    ptr = np.zeros(len(word_ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=len(word_ids)), out=ptr[1:])
    cumlen = np.concatenate([[0], np.cumsum(end - start)])
    return Presence(start, end, ptr, cumlen, num_windows)


def co_occurrences(found: Presence, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Windows containing both words, for each pair (first[i], second[i]) of indices into `found`."""
    sizes = np.diff(found.ptr)
    swap = sizes[second] > sizes[first]  # query the word with fewer intervals against the other
    probe, base = np.where(swap, first, second), np.where(swap, second, first)
    rows = _ragged_arange(found.ptr[probe], sizes[probe])
    pair = np.repeat(np.arange(len(first)), sizes[probe])
    stride = np.int64(found.num_windows + 1)
    word_of = np.repeat(np.arange(len(sizes)), sizes)
    keyed_starts = word_of * stride + found.starts

    def covered(x: np.ndarray) -> np.ndarray:
        """Windows of `base` before window x (x of pair p)."""
        b = base[pair]
        k = np.searchsorted(keyed_starts, b * stride + x, side="left")  # intervals of b starting before x
        has = k > found.ptr[b]
        last = np.where(has, k - 1, 0)
        full = found.cumlen[k] - found.cumlen[found.ptr[b]]
        overhang = np.where(has, np.maximum(0, found.ends[last] - x), 0)
        return full - overhang

    overlap = covered(found.ends[rows]) - covered(found.starts[rows])
    return np.bincount(pair, weights=overlap, minlength=len(first)).astype(np.int64)


def _log_ratio(co: np.ndarray, ci: np.ndarray, cj: np.ndarray, n: float, normalize: bool) -> np.ndarray:
    """gensim's log_ratio_measure (PMI, or NPMI when normalize) of count arrays."""
    with np.errstate(divide="ignore", invalid="ignore"):
        numerator = np.log((co / n + EPSILON) / (ci / n * (cj / n)))
        if not normalize:
            return numerator
        return numerator / -np.log(co / n + EPSILON)


@dataclass
class TopicIndex:
    """Topic words as indices into the union of the topics' words present in the reference."""

    ids: list[np.ndarray]  # per topic, indices into `words`, in topic order, missing words left out
    words: np.ndarray  # reference vocabulary ids of the relevant words
    missing: list[list[str]]  # per topic, the words the reference never contains


def index_topics(topics: Sequence[Sequence[str]], reference: Reference) -> TopicIndex:
    position = {w: i for i, w in enumerate(reference.vocabulary)}
    counts = reference.token_counts()
    present = {w for w in position if counts[position[w]] > 0}
    relevant = sorted({position[w] for topic in topics for w in topic if w in present})
    local = {v: i for i, v in enumerate(relevant)}
    ids, missing = [], []
    for t, topic in enumerate(topics):
        if len(set(topic)) < len(topic):
            raise ValueError(f"topic {t} repeats a word: {list(topic)}")
        kept = [w for w in topic if w in present]
        ids.append(np.asarray([local[position[w]] for w in kept], dtype=np.int64))
        missing.append([w for w in topic if w not in present])
    return TopicIndex(ids, np.asarray(relevant, dtype=np.int64), missing)


def _pair_table(index: TopicIndex, found: Presence):
    """Counts for every ordered pair of words within a topic: (topic, i, j) -> co-occurrence."""
    first, second, owner = [], [], []
    for t, ids in enumerate(index.ids):
        a, b = np.meshgrid(ids, ids, indexing="ij")
        first.append(a.ravel())
        second.append(b.ravel())
        owner.append(np.full(a.size, t))
    first, second = np.concatenate(first), np.concatenate(second)
    unique, inverse = np.unique(np.stack([np.minimum(first, second), np.maximum(first, second)]), axis=1, return_inverse=True)
    counts = co_occurrences(found, unique[0], unique[1])
    occurrences = found.counts()
    counts = np.where(unique[0] == unique[1], occurrences[unique[0]], counts)
    return counts[inverse.ravel()], occurrences[first], occurrences[second], np.concatenate(owner)


def topic_coherences(
    topics: Sequence[Sequence[str]], reference: Reference, measure: str, window: int | None = -1
) -> tuple[np.ndarray, list[list[str]]]:
    """Per-topic coherence as gensim's CoherenceModel(coherence=measure) computes it, and missing words.

    `window` defaults to gensim's window of the measure (110 for c_v, 10 for c_npmi and c_uci); u_mass
    counts whole documents.
    """
    if measure not in WINDOW_SIZES:
        raise ValueError(f"unknown coherence measure {measure!r}; choose from {sorted(WINDOW_SIZES)}")
    window = WINDOW_SIZES[measure] if window == -1 else window
    index = index_topics(topics, reference)
    if all(len(ids) == 0 for ids in index.ids):
        raise ValueError("no topic word occurs in the coherence reference corpus")
    found = presence(reference, index.words, None if measure == "u_mass" else window)
    n = float(found.num_windows)
    co, ci, cj, _ = _pair_table(index, found)
    sizes = np.array([len(ids) for ids in index.ids])
    scores = np.full(len(topics), np.nan)
    blocks = np.split(np.arange(len(co)), np.cumsum(sizes**2)[:-1])
    for t, block in enumerate(blocks):
        m = sizes[t]
        if m == 0:
            continue
        c, a, b = co[block].reshape(m, m), ci[block].reshape(m, m), cj[block].reshape(m, m)
        off = ~np.eye(m, dtype=bool)
        if measure == "u_mass":  # s_one_pre: (w_i, w_j) with j < i; log P(w_i, w_j) / P(w_j)
            lower = np.tril(np.ones((m, m), dtype=bool), -1)
            values = np.log((c / n + EPSILON) / (b / n))[lower]
            scores[t] = np.mean(values) if values.size else np.nan
        elif measure in ("c_npmi", "c_uci"):  # s_one_one: every ordered pair i != j
            values = _log_ratio(c, a, b, n, normalize=measure == "c_npmi")[off]
            scores[t] = np.mean(values) if values.size else np.nan
        else:  # c_v: s_one_set, NPMI context vectors (gamma 1) over the topic's words, cosine
            npmi = _log_ratio(c, a, b, n, normalize=True)
            total = np.zeros(m)
            for row in npmi:  # gensim adds the segment words' vectors one after another
                total = total + row
            with np.errstate(divide="ignore", invalid="ignore"):
                cosine = (npmi @ total) / (np.sqrt((npmi**2).sum(axis=1)) * np.sqrt((total**2).sum()))
            scores[t] = np.mean(cosine)
    return scores, index.missing


def coherence_report(
    topics: Sequence[Sequence[str]], reference: Reference, measures: Sequence[str] = ("c_v", "c_npmi")
) -> dict:
    """Mean and per-topic coherence for each measure, and the topic words missing from the reference."""
    report = {"per_topic": {}, "missing_words": {}}
    for measure in measures:
        scores, missing = topic_coherences(topics, reference, measure)
        report[measure] = float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")
        report["per_topic"][measure] = [float(s) for s in scores]
    report["missing_words"] = {str(t): words for t, words in enumerate(missing) if words}
    report["missing_word_count"] = sum(len(words) for words in missing)
    return report


def topics_key(topics: Sequence[Sequence[str]], reference_path: str | Path) -> str:
    """What a coherence result depends on: the topic words and the reference file's content."""
    digest = hashlib.sha256(json.dumps([list(t) for t in topics]).encode())
    digest.update(Path(reference_path).read_bytes())
    return digest.hexdigest()


def gensim_coherence(
    topics: Sequence[Sequence[str]], texts: Sequence[Sequence[str]], measure: str
) -> np.ndarray:
    """Per-topic coherence straight from gensim's CoherenceModel (the slow path that checks ours)."""
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    dictionary = Dictionary(texts)
    model = CoherenceModel(
        topics=[list(t) for t in topics],
        texts=texts,
        dictionary=dictionary,
        coherence=measure,
        topn=max(len(t) for t in topics),
        processes=1,
    )
    return np.asarray(model.get_coherence_per_topic(), dtype=float)
