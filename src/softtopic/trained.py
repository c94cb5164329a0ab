"""Use a trained run: load its saved model and give new documents their topic proportions.

    import softtopic
    run = softtopic.load_run("results/bbc/models/dsl/gemma270m/default/K10/tau3/seed0")
    theta = run.transform(["A new article ...", "Another one ..."])   # documents x K

A new document goes through what the training documents went through, with the settings saved in the
run's model.json (softtopic.savedmodel), not those of today's config:

- BoW: the run's token filter (softtopic.vocabulary) and the training vocabulary;
- sentence embeddings: the same encoder on the text it read in training (the card's `encoder_text`):
  the raw text as the prepared corpus holds it (protocol fair; surrounding whitespace stripped, as
  softtopic.corpus does) or the vocabulary-filtered text (protocol paper; version-1 cards);
- LM hidden states (DSL models): the LM stage's own code (`softtopic.lm.DocumentPass`, what the
  `lm_outputs` rule runs) with the same LM, prompt, document window, dtype and batch plan. Its resumable
  shards are the cache: the same documents again cost no LM pass.

theta is the model's own deterministic inference (`TopicModel.transform`), so: the training documents
get the run's theta; a document gets the same theta alone or in a batch; and the same again after a
reload or in another process. A document a BoW-supervised model cannot read (no vocabulary word) gets a
row of NaN, as it was left out of training.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from softtopic.models.base import TopicData
from softtopic.savedmodel import SavedModelError, encoder_text, load_model


def default_cache_dir() -> Path:
    """Where the LM pass over new documents keeps its shards: $SOFTTOPIC_CACHE, else ~/.cache/softtopic."""
    return Path(os.environ.get("SOFTTOPIC_CACHE", Path.home() / ".cache" / "softtopic")) / "lm-shards"


def find_lm_manifest(run_dir: str | Path, name: str) -> Path | None:
    """resources/lm/<name>/lm.json of the workflow directory that holds `run_dir` (or of the working directory)."""
    for folder in [*Path(run_dir).resolve().parents, Path.cwd()]:
        manifest = folder / "resources" / "lm" / name / "lm.json"
        if manifest.exists():
            return manifest
    return None


def lm_differences(saved: dict, manifest: dict, projection: dict | None = None) -> list[str]:
    """What differs between the LM a run was trained with (its card's `lm`) and the one found now."""
    differences = [f"{key}: trained with {saved['manifest'].get(key)!r}, found {manifest.get(key)!r}"
                   for key in ("source", "kind") if saved["manifest"].get(key) != manifest.get(key)]
    if projection is not None:
        for key in ("vocabulary_size", "distinct_tokens", "words_sharing_first_subtoken"):
            if saved["projection_summary"].get(key) != projection.get(key):
                differences.append(f"the tokenizer's projection of the vocabulary ({key}): trained with "
                                   f"{saved['projection_summary'].get(key)!r}, found {projection.get(key)!r}")
    return differences


class TrainedRun:
    """A run's saved model with what new documents need. `transform(texts)` -> theta; `topics`,
    `topic_word`, `vocabulary` and `card` describe it."""

    def __init__(self, folder: str | Path, lm_manifest: str | Path | None = None,
                 cache_dir: str | Path | None = None, device: str | None = None):
        self.folder = Path(folder)
        self.model, self.card, self.vocabulary = load_model(self.folder)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.device = device
        self.lm_manifest = None
        self._pass = None
        self._encoder = None
        self._training: dict[str, tuple] = {}
        if "hidden" in self.card["reads"]:
            if self.card["lm"] is None:
                raise SavedModelError(f"{self.folder} reads LM hidden states but its model.json names no LM "
                                      "(trained outside the workflow without the LM stage's meta.json)")
            name = self.card["lm"]["name"]
            manifest = Path(lm_manifest) if lm_manifest is not None else find_lm_manifest(self.folder, name)
            if manifest is None or not manifest.exists():
                raise SavedModelError(
                    f"{self.folder} was trained on the hidden states of LM '{name}' "
                    f"(source {self.card['lm']['manifest']['source']!r}), and no resources/lm/{name}/lm.json "
                    "was found above it or in the working directory: pass its lm.json (lm_manifest=, --lm), "
                    "e.g. after `snakemake resources/lm/<name>/lm.json`"
                )
            differences = lm_differences(self.card["lm"], json.loads(manifest.read_text()))
            if differences:
                raise SavedModelError(f"{manifest} is not the LM {self.folder} was trained with: " + "; ".join(differences))
            self.lm_manifest = manifest

    @property
    def num_topics(self) -> int:
        return self.card["num_topics"]

    @property
    def topic_word(self) -> np.ndarray:
        """K x |V| topic-word distributions (rows sum to 1), columns in `vocabulary` order."""
        return np.asarray(self.model.beta())

    def top_words(self, n: int = 10) -> list[list[str]]:
        order = np.argsort(-self.topic_word, axis=1, kind="stable")[:, :n]
        return [[self.vocabulary[j] for j in row] for row in order]

    @property
    def topics(self) -> list[list[str]]:
        """Each topic's 10 highest-weight words, topic numbers as in the run's output.npz."""
        return self.top_words()

    # ---- the inputs of new documents, made as the training documents' were
    def corpus_dir(self) -> Path | None:
        """results/<corpus> of the workflow that trained the run, if the run still lies in it."""
        for folder in self.folder.resolve().parents:
            if folder.name == "models" and folder.parent.name == self.card["corpus"]:
                return folder.parent
        return None

    def training_rows(self, kind: str) -> tuple[dict[str, int], np.ndarray]:
        """(key -> row, array) of what the training corpus's stages computed for its documents, where they
        are still beside the run and made with the run's settings: 'hidden' (keys: prompts; the LM
        stage's hidden.npy) or 'embeddings' (keys: the texts the encoder read, `encoder_texts`; the
        embeddings.npy of the run's encoder and text). A document the training corpus holds takes its row,
        so it gets exactly its training theta. ({}, None) if absent."""
        if kind in self._training:
            return self._training[kind]
        found: tuple[dict[str, int], np.ndarray | None] = ({}, None)
        corpus = self.corpus_dir()
        if kind == "hidden" and corpus is not None:
            lm, prompt = self.card["lm"], self.card["prompt"]
            folder = corpus / "lm" / lm["name"] / prompt["name"]
            if (folder / "meta.json").exists() and (corpus / "corpus" / "documents.parquet").exists():
                meta = json.loads((folder / "meta.json").read_text())
                same = all(meta.get(key) == lm[key] for key in ("dtype", "max_document_tokens", "token_budget"))
                if same and meta["lm"] == lm["manifest"] and meta["instruction"] == prompt["instruction"]:
                    import pandas as pd

                    texts = pd.read_parquet(corpus / "corpus" / "documents.parquet", columns=["text"])["text"]
                    prompts, _ = self.lm_pass().prompts(texts.tolist())
                    found = ({key: row for row, key in reversed(list(enumerate(prompts)))},
                             np.load(folder / "hidden.npy", mmap_mode="r"))
        elif kind == "embeddings" and corpus is not None:
            text = encoder_text(self.card)
            array = corpus / "embeddings" / self.card["encoder"] / text / "embeddings.npy"
            lines = None
            if text == "raw" and (corpus / "corpus" / "documents.parquet").exists():
                import pandas as pd

                lines = pd.read_parquet(corpus / "corpus" / "documents.parquet", columns=["text"])["text"].tolist()
            elif text == "filtered" and (corpus / "vocabulary" / "texts.txt").exists() and (
                    corpus / "vocabulary" / "vocabulary.txt").read_text().split() == self.vocabulary:
                lines = (corpus / "vocabulary" / "texts.txt").read_text().split("\n")[:-1]
            if lines is not None and array.exists():
                found = ({key: row for row, key in reversed(list(enumerate(lines)))}, np.load(array, mmap_mode="r"))
        if found[1] is not None and len(found[0]) and len(found[1]) < max(found[0].values()) + 1:
            found = ({}, None)  # not made for these documents
        self._training[kind] = found
        return found

    def lm_pass(self):
        """The LM stage (`softtopic.lm.DocumentPass`) with the run's LM, prompt, document window and dtype,
        loaded once. It runs each new prompt alone (batches of one, no padding), so that a document's
        hidden state does not depend on the documents it is given with."""
        if self._pass is None:
            from softtopic.lm import DocumentPass
            from softtopic.prompting import PromptTemplate

            lm, prompt = self.card["lm"], self.card["prompt"]
            settings = {key: lm[key] for key in ("max_document_tokens", "projection", "chain_top_groups")}
            settings.update(batch_size=1, shard_batches=16, device=self.device or "auto")
            self._pass = DocumentPass.open(self.lm_manifest, self.vocabulary, PromptTemplate(prompt["instruction"],
                                           prompt["template"]), settings, dtype=lm["dtype"], token_budget=None)
            differences = lm_differences(lm, self._pass.manifest, self._pass.projection_meta())
            if self._pass.max_document_tokens != lm["max_document_tokens"]:
                differences.append(f"document window: trained with {lm['max_document_tokens']} tokens, "
                                   f"the LM allows {self._pass.max_document_tokens}")
            if differences:
                raise SavedModelError(f"{self.lm_manifest} is not the LM {self.folder} was trained with: "
                                      + "; ".join(differences))
        return self._pass

    def features(self, kind: str, keys: list[str], compute) -> np.ndarray:
        """Rows for `keys`: from the training corpus's array where it holds the key (`training_rows`),
        else computed by `compute(missing keys)`, each key alone."""
        known, array = self.training_rows(kind)
        missing = sorted({key for key in keys if key not in known})
        computed = dict(zip(missing, compute(missing))) if missing else {}
        return np.stack([np.asarray(computed[key]) if key in computed else np.asarray(array[known[key]])
                         for key in keys]).astype(np.float32)

    def hidden_states(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """The LM's last hidden state of each text's prompt, as the LM stage computes it (new prompts one
        at a time; shards kept in `cache_dir`, keyed by the prompts and the LM settings, so the same texts
        again are read back)."""
        stage = self.lm_pass()
        prompts, _ = stage.prompts(texts)

        def compute(missing: list[str]) -> np.ndarray:
            key = hashlib.sha256(json.dumps([self.card["lm"], self.card["prompt"], stage.device]).encode())
            for prompt in missing:
                key.update(prompt.encode("utf-8", "surrogatepass") + b"\0")
            return stage.run(missing, self.cache_dir / key.hexdigest()[:24], progress=progress)[1]

        return self.features("hidden", prompts, compute)

    def encoder_texts(self, texts: Sequence[str], tokens: list[list[str]]) -> list[str]:
        """What the run's sentence encoder reads of each text, as the workflow's embedding step fed it: the
        text as the prepared corpus holds it ("raw") or its vocabulary words in order, one space apart
        ("filtered", the vocabulary step's texts.txt); `tokens`: the texts' tokens under the run's filter."""
        if encoder_text(self.card) == "raw":
            from softtopic.corpus import prepared_text

            return [prepared_text(text) for text in texts]
        from softtopic.vocabulary import filter_to_vocabulary

        return [" ".join(words) for words in filter_to_vocabulary(tokens, self.vocabulary)]

    def embeddings(self, texts: Sequence[str], tokens: list[list[str]]) -> np.ndarray:
        """The sentence encoder's embedding of each text's `encoder_texts` (new ones one at a time)."""
        from softtopic.embeddings import encode_documents, load_encoder

        def compute(missing: list[str]) -> np.ndarray:
            if self._encoder is None:
                self._encoder = load_encoder(self.card["encoder"])
            return np.concatenate([encode_documents([text], self._encoder, batch_size=1) for text in missing])

        return self.features("embeddings", self.encoder_texts(texts, tokens), compute)

    def topic_data(self, texts: Sequence[str], progress: bool = False) -> TopicData:
        """What the model reads about `texts` (`card['reads']`), made as it was for the training documents."""
        from softtopic.vocabulary import bag_of_words, tokenize_documents

        texts = [str(text) for text in texts]
        reads = set(self.card["reads"])
        data = TopicData(bow=sp.csr_matrix((len(texts), len(self.vocabulary)), dtype=np.float32),
                         vocabulary=self.vocabulary)
        if reads & {"bow", "embeddings"}:
            settings = self.card["vocabulary"]
            tokens = tokenize_documents(texts, settings["filter"], settings["min_word_length"])
            data.bow = bag_of_words(tokens, self.vocabulary)
            if "embeddings" in reads:
                data.embeddings = self.embeddings(texts, tokens)
        if "hidden" in reads:
            data.hidden = self.hidden_states(texts, progress)
        return data

    def transform(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """theta (len(texts) x K, float32): each text's topic proportions; NaN rows for texts a
        BoW-supervised model cannot read (no vocabulary word)."""
        if isinstance(texts, str):
            raise TypeError("transform takes a list of texts, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.num_topics), dtype=np.float32)
        return self.model.transform(self.topic_data(texts, progress))


def load_run(run_dir: str | Path, lm_manifest: str | Path | None = None, cache_dir: str | Path | None = None,
             device: str | None = None) -> TrainedRun:
    """The run saved in `run_dir` (the folder of its output.npz), checked: the format version, the
    vocabulary, and for an LM-supervised run the LM (`lm_manifest`: its lm.json, found under
    resources/lm/ above `run_dir` when not given). `cache_dir`: where LM shards are kept (default
    `default_cache_dir()`); `device`: where the LM runs (default: CUDA when present)."""
    return TrainedRun(run_dir, lm_manifest, cache_dir, device)
