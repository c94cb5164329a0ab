"""A trained model saved portably beside its run's output.npz: no pickle, readable without softtopic.

Three files in the run's folder:

- ``model.safetensors``: the model's arrays (a neural network's weights and buffers, BatchNorm running
  statistics included; LDA's exp(E[log beta]), alpha and topic-word matrix; BERTopic's K-means centres).
- ``model.json``: the card. ``format`` and ``format_version``; what the model is (``model``, ``base_model``,
  ``model_class``, ``hyperparameters``, ``num_topics``, ``tau``, ``seed``, ``corpus``); ``reads`` (what
  theta of new documents needs: "bow", "embeddings", "hidden"); ``vocabulary`` (size, SHA-256 of
  vocabulary.txt, the token filter that makes a BoW); ``encoder`` (the sentence encoder, when embeddings
  are read) and ``encoder_text`` (which text of a document it read: "raw", the prepared text, protocol
  fair, or "filtered", its vocabulary words, protocol paper; null for a run that reads no embeddings;
  absent from version-1 cards); ``lm`` and ``prompt`` (for LM-supervised runs: the LM's name, source and
  manifest, the dtype, document window, batch plan and projection the LM stage ran with, and the
  prompt's instruction and template with their SHA-256); ``state`` (what rebuilding needs, e.g. the encoder's input width);
  ``versions``.
- ``vocabulary.txt``: one word per line, the order of the topic-word columns.

`load_model` checks the format version and the vocabulary against the card and says what differs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

FORMAT = "softtopic-model"
FORMAT_VERSION = 2
# Version 2 added `encoder_text`. A version-1 card is still read: those runs' encoder read the
# vocabulary-filtered text (the only text before the protocols), which `encoder_text` gives them.
READ_VERSIONS = (1, 2)
WEIGHTS, CARD, VOCABULARY = "model.safetensors", "model.json", "vocabulary.txt"


class SavedModelError(ValueError):
    """A saved model that cannot be used as it is: missing files, another format version, or an LM or
    vocabulary that differs from the one it was trained with."""


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def vocabulary_text(words: Sequence[str]) -> str:
    return "".join(word + "\n" for word in words)


def vocabulary_sha256(words: Sequence[str]) -> str:
    """SHA-256 of the vocabulary as vocabulary.txt holds it (one word per line)."""
    return text_sha256(vocabulary_text(words))


def describe_vocabulary_difference(expected: Sequence[str], found: Sequence[str], shown: int = 5) -> str:
    """What differs between two vocabularies: sizes, words only in one, the first position that differs."""
    parts = []
    if len(expected) != len(found):
        parts.append(f"{len(found)} words instead of {len(expected)}")
    missing = [w for w in expected if w not in set(found)]
    extra = [w for w in found if w not in set(expected)]
    if missing:
        parts.append(f"{len(missing)} words missing, e.g. {missing[:shown]}")
    if extra:
        parts.append(f"{len(extra)} words not in the training vocabulary, e.g. {extra[:shown]}")
    first = next((i for i, (a, b) in enumerate(zip(expected, found)) if a != b), None)
    if first is not None:
        parts.append(f"first difference at line {first + 1}: '{found[first]}' where training had '{expected[first]}'")
    return "; ".join(parts) or "the same words"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def save_model(folder: str | Path, model, vocabulary: Sequence[str], card: dict) -> dict:
    """Write model.safetensors, model.json and vocabulary.txt into `folder`; returns the card written.
    `card` holds what the model is and how its inputs were made (see the module docstring)."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors, state = model.export()
    card = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **card,
        "model_class": type(model).__name__,
        "reads": sorted(model.transform_reads()),
        "vocabulary": {**card.get("vocabulary", {}), "size": len(vocabulary),
                       "sha256": vocabulary_sha256(vocabulary)},
        "state": state,
        "arrays": {name: list(value.shape) for name, value in sorted(tensors.items())},
    }
    _write_atomic(folder / WEIGHTS, save(tensors, metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)}))
    _write_atomic(folder / VOCABULARY, vocabulary_text(vocabulary).encode("utf-8"))
    _write_atomic(folder / CARD, (json.dumps(card, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return card


def read_card(folder: str | Path) -> dict:
    """The card of the model saved in `folder`, after checking that its files are there and that this
    softtopic reads its format version."""
    folder = Path(folder)
    missing = [name for name in (WEIGHTS, CARD, VOCABULARY) if not (folder / name).exists()]
    if missing:
        raise SavedModelError(
            f"{folder} holds no saved model: {', '.join(missing)} missing. Runs trained before models were "
            "saved (format version 1) have only output.npz: retrain them (snakemake reruns the job)"
        )
    card = json.loads((folder / CARD).read_text())
    if card.get("format") != FORMAT:
        raise SavedModelError(f"{folder / CARD} is not a softtopic model card (format {card.get('format')!r})")
    if card.get("format_version") not in READ_VERSIONS:
        raise SavedModelError(
            f"{folder / CARD} has format version {card.get('format_version')!r}; this softtopic reads versions "
            f"{', '.join(map(str, READ_VERSIONS))}. Use the softtopic version that saved it, or retrain"
        )
    return card


def encoder_text(card: dict) -> str:
    """Which text of a document the run's sentence encoder read: "raw" or "filtered". A card without the
    key (format version 1, saved before the protocols) means "filtered", what those runs read."""
    text = card.get("encoder_text", "filtered")
    if text not in ("raw", "filtered"):
        raise SavedModelError(f"the model card of {card.get('model')!r} reads document embeddings but names "
                              f"no encoder text ('raw' or 'filtered'; found {text!r}): it was trained outside "
                              "the workflow")
    return text


def check_vocabulary(card: dict, words: Sequence[str], where: str, reference: Sequence[str] | None = None) -> None:
    """Raise SavedModelError unless `words` is the vocabulary the card was saved with; with the training
    vocabulary as `reference` (the run's output.npz holds it) the error says which words differ."""
    expected = card["vocabulary"]
    if vocabulary_sha256(words) == expected["sha256"]:
        return
    detail = "" if reference is None else f": {describe_vocabulary_difference(reference, words)}"
    raise SavedModelError(
        f"{where} is not the vocabulary this model was trained with ({expected['size']} words, SHA-256 "
        f"{expected['sha256'][:12]}..., found {len(words)} words, {vocabulary_sha256(words)[:12]}...){detail}"
    )


def load_model(folder: str | Path):
    """(the trained model, its card, its vocabulary) from `folder`, checked (`read_card`, `check_vocabulary`)."""
    from safetensors.torch import load_file

    from softtopic.models import make_model

    folder = Path(folder)
    card = read_card(folder)
    vocabulary = (folder / VOCABULARY).read_text(encoding="utf-8").split("\n")[:-1]
    reference = None
    if (folder / "output.npz").exists():
        from softtopic.output import ModelOutput

        reference = ModelOutput.load(folder / "output.npz").vocabulary
    check_vocabulary(card, vocabulary, str(folder / VOCABULARY), reference)
    model = make_model(card["base_model"], num_topics=card["num_topics"], **card["hyperparameters"])
    if type(model).__name__ != card["model_class"]:
        raise SavedModelError(f"{folder / CARD}: model '{card['base_model']}' is {type(model).__name__} in this "
                              f"softtopic, but was {card['model_class']} when saved")
    tensors = load_file(folder / WEIGHTS)
    shapes = {name: list(value.shape) for name, value in sorted(tensors.items())}
    if shapes != card["arrays"]:
        raise SavedModelError(f"{folder / WEIGHTS} holds arrays {shapes}, the card lists {card['arrays']}")
    model.restore(tensors, card["state"], vocabulary)
    return model, card, vocabulary
