"""The `chain` projection: words that share their first LM sub-token told apart by the sub-tokens after it.

The paper scores each vocabulary word by the logit of the first sub-token t1 of " " + word, so words that
share t1 (japan, jones, june, james: " j") get identical scores. `chain` scores a word by the log-probability
of its sub-tokens in the LM's full-vocabulary softmax after the prompt,

    log P(t1) + log P(t2 | t1) + ... ,

read only as deep as needed to tell the words sharing a prefix apart (a trie over the words' sub-tokens:
a word stops at the first prefix no other word shares). A word that ends where others sharing its prefix
go on ("dog" beside "dogs") adds log P(end of word | its sub-tokens), approximated by the probability mass
of the tokens that cannot continue a word (those starting with a space, a newline, punctuation, or a
special token: `word_boundary_tokens`). So a word's score is the log-probability that the LM's next word
starts with (or, for a word that ends inside the trie, is) that word, and the scores of words sharing a
prefix add up to at most the prefix's own probability.

A word whose first sub-token is its own scores log P(t1) = logit(t1) - logsumexp(logits): the paper's
logit shifted by a constant per document, so (softmax being shift-invariant) it keeps the paper's soft
label relative to every other such word.

The cost: the prompt pass keeps its KV cache, then one extra forward step per trie depth feeds, in one
batch, the last sub-token of every prefix that branches (all groups at once), each attending to the
prompt and to its own ancestors only (a tree attention mask), each at the position after the prompt
that it would have in the sequence prompt + prefix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

ROOT = -1  # the "query" of the prompt's own last position


@dataclass
class ChainPlan:
    """Which next-token distributions to read, and how they add up to each word's score.

    queries: prefixes (sub-token tuples) whose next-token distribution is read, in breadth-first order
    (depth never decreases); parents: each query's parent query (ROOT for a one-token prefix);
    edges: (query or ROOT, token) pairs whose log-probability is read; word_edges: each word's edges
    from the root; word_end: the query whose end-of-word mass a word adds (None for most words).
    """

    queries: list[tuple[int, ...]] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)
    word_edges: list[list[int]] = field(default_factory=list)
    word_end: list[int | None] = field(default_factory=list)

    @property
    def depth(self) -> int:
        """Extra forward steps per batch."""
        return max((len(q) for q in self.queries), default=0)

    def levels(self) -> list[tuple[int, int]]:
        """(start, stop) of the queries of each depth."""
        bounds, start = [], 0
        for stop in range(1, len(self.queries) + 1):
            if stop == len(self.queries) or len(self.queries[stop]) != len(self.queries[start]):
                bounds.append((start, stop))
                start = stop
        return bounds

    def ancestors(self) -> np.ndarray:
        """Q x Q booleans: [i, j] when query j is query i or one of its ancestors."""
        table = np.zeros((len(self.queries), len(self.queries)), dtype=bool)
        for i in range(len(self.queries)):
            j = i
            while j != ROOT:
                table[i, j] = True
                j = self.parents[j]
        return table

    def path(self, word: int) -> list[int]:
        """The sub-tokens a word is scored on."""
        return [self.edges[e][1] for e in self.word_edges[word]]

    def summary(self) -> dict:
        return {
            "extra_steps": self.depth,
            "extra_tokens_per_prompt": len(self.queries),
            "words_scored_past_first_subtoken": sum(len(e) > 1 for e in self.word_edges),
            "words_with_end_of_word_term": sum(q is not None for q in self.word_end),
        }


def plan_chain(pieces: Sequence[Sequence[int]]) -> ChainPlan:
    """The trie walk for words given as sub-token id sequences (`prompting.word_pieces`)."""
    plan = ChainPlan(word_edges=[[] for _ in pieces], word_end=[None] * len(pieces))
    edge_index: dict[tuple[int, int], int] = {}

    def add_edge(query: int, token: int, words: list[int]) -> None:
        key = (query, token)
        if key not in edge_index:
            edge_index[key] = len(plan.edges)
            plan.edges.append(key)
        for w in words:
            plan.word_edges[w].append(edge_index[key])

    def by_token(words: list[int], depth: int) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = defaultdict(list)
        for w in words:
            groups[pieces[w][depth]].append(w)
        return groups

    # Breadth first, so that the queries of one depth are consecutive and each query's parent comes before it.
    frontier: list[tuple[tuple[int, ...], int, list[int]]] = []
    for token, words in by_token(list(range(len(pieces))), 0).items():
        add_edge(ROOT, token, words)
        frontier.append(((token,), ROOT, words))
    while frontier:
        following = []
        for prefix, parent, words in frontier:
            if len({tuple(pieces[w]) for w in words}) == 1:  # told apart (or the same sub-tokens: a tie)
                continue
            going = [w for w in words if len(pieces[w]) > len(prefix)]
            query = len(plan.queries)
            plan.queries.append(prefix)
            plan.parents.append(parent)
            for w in words:
                if len(pieces[w]) == len(prefix):
                    plan.word_end[w] = query
            for token, group in by_token(going, len(prefix)).items():
                add_edge(query, token, group)
                following.append((prefix + (token,), query, group))
        frontier = following
    return plan


def word_boundary_tokens(tokenizer, size: int) -> np.ndarray:
    """Booleans over the LM's `size` output tokens: those that cannot continue a word (their text starts
    with a space, newline, punctuation or is a special token). Ids the tokenizer does not know stay False."""
    known = min(size, len(tokenizer))
    pieces = tokenizer.convert_ids_to_tokens(list(range(known)))
    texts = tokenizer.batch_decode([[i] for i in range(known)])
    special = set(tokenizer.all_special_ids)
    result = np.zeros(size, dtype=bool)
    for i, (piece, text) in enumerate(zip(pieces, texts)):
        result[i] = i in special or not text or not text[0].isalnum() or (piece or " ")[0] in "▁Ġ"
    return result


class ChainHead(torch.nn.Module):
    """Per-word chain scores (log-probabilities) and the last hidden state, for a batch of prompts."""

    def __init__(self, model, plan: ChainPlan, boundary: np.ndarray, chunk_values: int = 1 << 24):
        super().__init__()
        self.model = model
        self.body = model.get_decoder()
        self.head = model.get_output_embeddings()
        device = self.head.weight.device
        config = getattr(model.config, "text_config", model.config)
        self.softcap = getattr(config, "final_logit_softcapping", None)
        self.plan = plan
        self.levels = plan.levels()
        self.ancestors = torch.as_tensor(plan.ancestors(), device=device)
        self.query_token = torch.as_tensor([q[-1] for q in plan.queries], dtype=torch.long, device=device)
        self.edge_query = torch.as_tensor([q for q, _ in plan.edges], dtype=torch.long, device=device)
        self.edge_token = torch.as_tensor([t for _, t in plan.edges], dtype=torch.long, device=device)
        self.boundary = torch.as_tensor(boundary, device=device)
        terms = [(w, e) for w, edges in enumerate(plan.word_edges) for e in edges]
        self.term_word = torch.as_tensor([w for w, _ in terms], dtype=torch.long, device=device)
        self.term_edge = torch.as_tensor([e for _, e in terms], dtype=torch.long, device=device)
        ends = [(w, q) for w, q in enumerate(plan.word_end) if q is not None]
        self.end_word = torch.as_tensor([w for w, _ in ends], dtype=torch.long, device=device)
        self.end_query = torch.as_tensor([q for _, q in ends], dtype=torch.long, device=device)
        self.chunk_values = chunk_values

    def log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """fp32 log-softmax over the LM's whole vocabulary of hidden states (..., d)."""
        logits = self.head(hidden).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return torch.log_softmax(logits, dim=-1)

    def _read(self, hidden: torch.Tensor, start: int, edge_lp: torch.Tensor, end_lp: torch.Tensor) -> None:
        """Fill the log-probabilities of the edges leaving queries start.. (ROOT when start < 0) and their
        end-of-word masses, from those queries' hidden states (B x q x d), a few queries at a time."""
        batch, count = hidden.shape[:2]
        step = max(1, self.chunk_values // (batch * self.head.weight.shape[0]))
        for offset in range(0, count, step):
            lp = self.log_probs(hidden[:, offset : offset + step])
            first = start + offset
            last = first + lp.shape[1]
            if start < 0:
                chosen = (self.edge_query == ROOT).nonzero().squeeze(-1)
                edge_lp[:, chosen] = lp[:, 0, self.edge_token[chosen]]
                continue
            chosen = ((self.edge_query >= first) & (self.edge_query < last)).nonzero().squeeze(-1)
            edge_lp[:, chosen] = lp[:, self.edge_query[chosen] - first, self.edge_token[chosen]]
            end_lp[:, first:last] = lp[:, :, self.boundary].logsumexp(-1)

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """(scores over the words, last hidden state), both fp32, for each row (left-padded prompts)."""
        from softtopic.lm import RestrictedHead  # noqa: PLC0415 (lm imports this module)

        batch = input_ids.shape[0]
        out = self.body(input_ids=input_ids, attention_mask=attention_mask,
                        position_ids=RestrictedHead.position_ids(attention_mask), use_cache=True)
        last = out.last_hidden_state[:, -1, :]
        cache = out.cache
        device = last.device
        edge_lp = torch.zeros(batch, len(self.plan.edges), device=device)
        end_lp = torch.zeros(batch, len(self.plan.queries), device=device)
        self._read(last[:, None, :], ROOT, edge_lp, end_lp)
        lengths = attention_mask.long().sum(-1, keepdim=True)
        prompt_keys = attention_mask.bool()[:, None, :]
        dtype = next(self.body.parameters()).dtype
        for start, stop in self.levels:
            count = stop - start
            depth = len(self.plan.queries[start])
            tree = self.ancestors[start:stop, :stop][None].expand(batch, -1, -1)
            allowed = torch.cat([prompt_keys.expand(-1, count, -1), tree], dim=-1)[:, None]
            mask = torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill(~allowed, torch.finfo(dtype).min)
            step = self.body(
                input_ids=self.query_token[start:stop][None].expand(batch, -1),
                attention_mask=mask,
                position_ids=(lengths + depth - 1).expand(-1, count),
                cache=cache,
                use_cache=True,
            )
            self._read(step.last_hidden_state, start, edge_lp, end_lp)
        scores = torch.zeros(batch, len(self.plan.word_edges), device=device)
        scores.index_add_(1, self.term_word, edge_lp[:, self.term_edge])
        scores.index_add_(1, self.end_word, end_lp[:, self.end_query])
        return scores, last.float()


@torch.inference_mode()
def naive_chain_scores(model, prompt_ids: Sequence[int], plan: ChainPlan, boundary: np.ndarray,
                       words: Sequence[int]) -> np.ndarray:
    """The chain scores of `words` for one prompt, each from the model's own forward pass over the prompt
    followed by the word's sub-tokens (no cache, no tree mask): the reference for `ChainHead`."""
    scores = []
    for w in words:
        path = plan.path(w)
        ids = torch.as_tensor([list(prompt_ids) + path], device=model.device)
        lp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)  # softcapped by the model
        n = len(prompt_ids)
        score = sum(float(lp[n - 1 + i, token]) for i, token in enumerate(path))
        if plan.word_end[w] is not None:
            score += float(lp[n - 1 + len(path), torch.as_tensor(boundary, device=lp.device)].logsumexp(-1))
        scores.append(score)
    return np.asarray(scores, dtype=np.float64)
