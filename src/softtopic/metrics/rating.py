"""LLM rating of topics (SPEC §5): an LLM rates each topic's words from 1 (not very related) to 3
(very related), one number reply, temperature 0; the score of a model is the mean over its topics.

Two raters behind one interface (:class:`Rater`):

- :class:`LocalRater` scores with any causal LM loaded by :func:`softtopic.lm.load_lm`: it reads the
  probabilities of the answers "1", "2", "3" at the position right after the instruction (renormalised
  over the three). Its rating is the most probable answer (what a temperature-0 reply would be); the
  expected answer is kept as well. Deterministic and offline.
- :class:`ChatRater` asks an OpenAI-compatible chat endpoint (``POST {base_url}/chat/completions``,
  temperature 0), retries transient failures, and caches answers in a JSON file keyed by the model
  and the topic words, so that a topic is never asked twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

INSTRUCTION = (
    "Below is a list of words that a topic model grouped into one topic. Rate how related the words are "
    "to each other on a three-point scale: 1 = not very related, 2 = somewhat related, 3 = very related. "
    "Reply with a single number (1, 2 or 3) and nothing else."
)
ANSWERS = ("1", "2", "3")


def rating_prompt(words: Sequence[str]) -> str:
    """The rating instruction and the topic's words (in rank order)."""
    return f"{INSTRUCTION}\n\nWords: {', '.join(words)}\n\nRating:"


class Rater(ABC):
    """Rates topics; `rate` returns one rating in [1, 3] per topic (NaN where no rating came back)."""

    @abstractmethod
    def rate(self, topics: Sequence[Sequence[str]]) -> list[float]: ...

    def score(self, topics: Sequence[Sequence[str]]) -> dict:
        """Mean rating over the topics, and each topic's rating."""
        ratings = self.rate(topics)
        finite = [r for r in ratings if np.isfinite(r)]
        return {"llm_rating": float(np.mean(finite)) if finite else None, "llm_rating_per_topic": ratings}


class LocalRater(Rater):
    """Next-token probabilities of "1", "2", "3" from a local causal LM, one forward pass per topic."""

    def __init__(self, model, tokenizer, chat_template: bool = True):
        self.model, self.tokenizer = model, tokenizer
        self.chat_template = chat_template and getattr(tokenizer, "chat_template", None) is not None
        # an answer may be tokenised with or without a leading space: both spellings count
        self.answer_ids = [sorted({self._first_token(a), self._first_token(" " + a)}) for a in ANSWERS]
        self.last_probabilities: np.ndarray | None = None

    def _first_token(self, text: str) -> int:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        bare = self.tokenizer.encode(" ", add_special_tokens=False)
        if len(ids) > 1 and bare and ids[0] == bare[0] and text.startswith(" "):
            return ids[1]  # a tokenizer that always emits a lone space token first
        return ids[0]

    def _encode(self, words: Sequence[str]) -> list[int]:
        prompt = rating_prompt(words)
        if self.chat_template:
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True, return_dict=False
            )
        return self.tokenizer.encode(prompt)

    def probabilities(self, topics: Sequence[Sequence[str]]) -> np.ndarray:
        """Topics x 3: the renormalised probabilities of answering 1, 2, 3."""
        import torch

        rows = []
        for words in topics:
            ids = torch.tensor([self._encode(words)], device=self.model.device)
            with torch.inference_mode():
                logits = self.model(input_ids=ids).logits[0, -1].float()
            mass = torch.softmax(logits, dim=-1)
            rows.append([float(mass[answer].sum()) for answer in self.answer_ids])
        rows = np.asarray(rows, dtype=np.float64)
        return rows / rows.sum(axis=1, keepdims=True)

    def rate(self, topics: Sequence[Sequence[str]]) -> list[float]:
        self.last_probabilities = self.probabilities(topics)
        return [float(i + 1) for i in self.last_probabilities.argmax(axis=1)]

    def score(self, topics: Sequence[Sequence[str]]) -> dict:
        result = super().score(topics)
        expected = self.last_probabilities @ np.arange(1, 4)
        return result | {"llm_rating_expected": float(expected.mean()), "llm_rating_probabilities": self.last_probabilities.tolist()}


class RatingEndpointError(RuntimeError):
    """The chat endpoint could not be reached or kept failing."""


def parse_rating(reply: str) -> float:
    """The first 1, 2 or 3 in a reply (NaN when there is none)."""
    match = re.search(r"[123]", reply)
    return float(match.group()) if match else float("nan")


def endpoint_url(base_url: str | None) -> str:
    """The chat endpoint's base URL: `base_url`, else OPENAI_BASE_URL, else OpenAI's."""
    return (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")


def chat_completion(base_url: str, model: str, api_key: str, prompt: str, max_tokens: int, retries: int = 3,
                    backoff_s: float = 1.0, timeout_s: float = 60.0) -> str:
    """The reply of an OpenAI-compatible endpoint (``POST {base_url}/chat/completions``, temperature 0) to one
    user message; transient failures (timeouts, 408/409/429, 5xx) are retried with exponential back-off."""
    body = json.dumps({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0,
        "max_tokens": max_tokens,
    }).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    url = f"{base_url}/chat/completions"
    problem = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff_s * 2 ** (attempt - 1))
        try:
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return json.loads(response.read())["choices"][0]["message"]["content"]
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code} {error.reason}"
            if error.code not in (408, 409, 429) and error.code < 500:
                break  # a client error (bad key, bad model): retrying cannot help
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            problem = str(getattr(error, "reason", error))
        log.warning("chat request %d/%d to %s failed: %s", attempt + 1, retries + 1, url, problem)
    raise RatingEndpointError(
        f"the chat endpoint {url} (model '{model}') failed: {problem}. Check metrics.rating.base_url "
        "(or OPENAI_BASE_URL) and the API key in the variable named by metrics.rating.api_key_env, "
        "or set metrics.rating.rater (or topics.labeller) to another value."
    )


class ChatRater(Rater):
    """An OpenAI-compatible chat endpoint; settings from arguments or the environment."""

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        cache: str | Path | None = None,
        retries: int = 3,
        backoff_s: float = 1.0,
        timeout_s: float = 60.0,
    ):
        self.base_url = endpoint_url(base_url)
        self.model = model or os.environ.get("OPENAI_MODEL") or "gpt-4o"
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.cache_path = Path(cache) if cache else None
        self.cache = json.loads(self.cache_path.read_text()) if self.cache_path and self.cache_path.exists() else {}
        self.retries, self.backoff_s, self.timeout_s = retries, backoff_s, timeout_s

    def key(self, words: Sequence[str]) -> str:
        return hashlib.sha256(json.dumps([self.model, INSTRUCTION, list(words)]).encode()).hexdigest()

    def _ask(self, words: Sequence[str]) -> str:
        return chat_completion(self.base_url, self.model, self.api_key, rating_prompt(words), 4, self.retries,
                               self.backoff_s, self.timeout_s)

    def rate(self, topics: Sequence[Sequence[str]]) -> list[float]:
        ratings = []
        for words in topics:
            key = self.key(words)
            if key not in self.cache:
                self.cache[key] = {"words": list(words), "reply": self._ask(words)}
                self._save()
            ratings.append(parse_rating(self.cache[key]["reply"]))
        return ratings

    def _save(self) -> None:
        if self.cache_path:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.cache, indent=1, sort_keys=True))
            tmp.replace(self.cache_path)
