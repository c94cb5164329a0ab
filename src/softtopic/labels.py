"""Topic labels: a short phrase naming each topic, written by an LM from the topic's top words and its
most representative documents.

Two labellers behind one interface (:class:`Labeller`):

- :class:`LocalLabeller`: a causal LM loaded by :func:`softtopic.lm.load_lm` (by default the run's
  teacher), greedy decoding, prompts in batches (left padding), offline.
- :class:`ChatLabeller`: the rater's OpenAI-compatible chat endpoint (:func:`softtopic.metrics.rating.
  chat_completion`), temperature 0.

Labels are cached by content (:class:`LabelCache`): the key is a hash of the labeller's identity (the LM,
its dtype and the decoding settings) and the prompt, so a rerun, or another run with the same topic
words and documents, asks the LM nothing (and does not even load it). The cache keeps the raw reply;
:func:`clean_label` turns it into the label when it is read.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

# Two worked examples (topics that no corpus here has) show a base LM the form of the answer: a short
# title-cased phrase, not a list of words.
EXAMPLES = (
    "Topic words: rain, wind, storm, temperature, forecast, snow\n"
    "Documents:\n"
    "- Heavy snow and strong winds expected across the north tonight\n"
    "- Forecasters warn of flooding as the storm moves east\n"
    "Label: Weather forecasts\n\n"
    "Topic words: recipe, flour, oven, bake, sugar, butter\n"
    "Documents:\n"
    "- How to bake a sourdough loaf at home\n"
    "- Ten easy cakes for a birthday party\n"
    "Label: Home baking\n"
)
INSTRUCTION = "Name each topic with a short label of two to four words."
LABEL_MAX_CHARS = 60
LABEL_MAX_WORDS = 6
LABEL_MAX_ITEMS = 3


def label_prompt(words: Sequence[str], documents: Sequence[str]) -> str:
    """The instruction, the worked examples and the topic's words and documents (each one line), ending
    where the label is to be written."""
    shown = "".join(f"- {text}\n" for text in documents)
    return f"{INSTRUCTION}\n\n{EXAMPLES}\nTopic words: {', '.join(words)}\nDocuments:\n{shown}Label:"


def clean_label(reply: str) -> str:
    """The first line of a reply, without quotes, markup and trailing punctuation; a comma-separated list
    keeps its first LABEL_MAX_ITEMS distinct items; at most LABEL_MAX_WORDS words and LABEL_MAX_CHARS
    characters (cut at a word)."""
    line = next((x for x in reply.strip().splitlines() if x.strip()), "")
    line = re.sub(r"^(label|topic)\s*:\s*", "", line.strip(), flags=re.IGNORECASE)
    items = [" ".join(item.strip(" \t\"'`*_#-–—:.;").split()) for item in line.split(",")]
    items = list({item.lower(): item for item in reversed(items) if item}.values())[::-1]
    line = ", ".join(items[:LABEL_MAX_ITEMS])
    line = " ".join(line.split()[:LABEL_MAX_WORDS]).rstrip(",")
    if len(line) > LABEL_MAX_CHARS:
        line = line[: LABEL_MAX_CHARS + 1].rsplit(" ", 1)[0].rstrip(",")
    return line


def cache_key(identity: str, prompt: str) -> str:
    return hashlib.sha256(json.dumps([identity, prompt]).encode()).hexdigest()


class LabelCache:
    """Labels by `cache_key`, in a JSON file shared by every labelling job (merged under a file lock,
    so two jobs writing at once lose nothing)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.entries: dict[str, dict] = self._read() if self.path else {}

    def _read(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, new: dict[str, dict]) -> None:
        self.entries.update(new)
        if not self.path or not new:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged = self._read() | new
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(merged, indent=1, sort_keys=True))
            tmp.replace(self.path)
        self.entries = merged | self.entries


class Labeller(ABC):
    """Writes one reply per prompt; `identity` names everything that decides the replies."""

    identity: str

    @abstractmethod
    def generate(self, prompts: Sequence[str]) -> list[str]: ...

    def label(self, prompts: Sequence[str], cache: LabelCache | None = None) -> list[str]:
        """A cleaned label per prompt; only prompts missing from the cache reach the LM (once each)."""
        cache = cache or LabelCache(None)
        keys = [cache_key(self.identity, p) for p in prompts]
        missing = list(dict.fromkeys(k for k in keys if cache.get(k) is None))
        if missing:
            prompt_of = dict(zip(keys, prompts))
            replies = self.generate([prompt_of[k] for k in missing])
            cache.put({k: {"reply": r, "labeller": self.identity} for k, r in zip(missing, replies)})
        log.info("%d labels: %d from the cache, %d generated", len(keys), len(keys) - len(missing), len(missing))
        return [clean_label(cache.get(k)["reply"]) for k in keys]


class LocalLabeller(Labeller):
    """Greedy decoding with a local causal LM: deterministic and offline. Prompts are sorted by length
    and run `batch_size` at a time (left padding); generation stops at the end of the line. The LM is
    loaded (`load()` -> model, tokenizer) only when a prompt is missing from the cache."""

    def __init__(self, load: Callable, name: str, dtype: str, max_new_tokens: int = 12, batch_size: int = 16):
        self._load, self._loaded = load, None
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        self.identity = f"local:{name}:{dtype}:greedy:{max_new_tokens}"

    def generate(self, prompts: Sequence[str]) -> list[str]:
        import torch

        if self._loaded is None:
            self._loaded = self._load()
        model, tokenizer = self._loaded
        started = time.perf_counter()
        encoded = [tokenizer.encode(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        replies = [""] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            width = max(len(encoded[i]) for i in batch)
            ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(batch):
                ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
                mask[row, width - len(encoded[i]):] = 1
            with torch.inference_mode():
                out = model.generate(
                    input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                    do_sample=False, max_new_tokens=self.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                    stop_strings=["\n"], tokenizer=tokenizer,
                )
            for row, i in enumerate(batch):
                replies[i] = tokenizer.decode(out[row, width:], skip_special_tokens=True)
        log.info("generated %d labels from %d prompt tokens in %.1f s", len(prompts), sum(map(len, encoded)),
                 time.perf_counter() - started)
        return replies


class ChatLabeller(Labeller):
    """The rater's OpenAI-compatible chat endpoint at temperature 0."""

    def __init__(self, base_url: str | None, model: str, api_key: str, retries: int = 3, max_tokens: int = 16):
        from softtopic.metrics.rating import endpoint_url

        self.base_url, self.model, self.api_key = endpoint_url(base_url), model, api_key
        self.retries, self.max_tokens = retries, max_tokens
        self.identity = f"chat:{self.base_url}:{model}:t0:{max_tokens}"

    def generate(self, prompts: Sequence[str]) -> list[str]:
        from softtopic.metrics.rating import chat_completion

        return [chat_completion(self.base_url, self.model, self.api_key, p, self.max_tokens, self.retries)
                for p in prompts]
