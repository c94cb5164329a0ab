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

The cost: the prompt pass keeps its KV cache, then one extra forward step feeds, in one batch, the last
sub-token of every prefix that branches (all groups and all trie depths at once), each attending to the
prompt and to its own ancestors only (a tree attention mask), each at the position after the prompt
that it would have in the sequence prompt + prefix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from softtopic.lm_forward import apply_softcap, left_padded_positions, logit_softcap

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
        """The longest prefix read (trie depth)."""
        return max((len(q) for q in self.queries), default=0)

    def path(self, word: int) -> list[int]:
        """The sub-tokens a word is scored on."""
        return [self.edges[e][1] for e in self.word_edges[word]]

    def summary(self) -> dict:
        return {
            "extra_steps": int(bool(self.queries)),
            "trie_depth": self.depth,
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
    """Per-word chain scores (log-probabilities) and the last hidden state, for a batch of prompts.

    With `top_groups` = m, only the m one-sub-token prefixes that are most probable after each prompt
    (and the few prefixes that branch deeper, with their ancestors) are read in that prompt's context;
    the words under the other prefixes split their prefix's (in-context) probability as they do after
    `prior_ids` (the prompt with an empty document), computed once. That caps the extra tokens per prompt.
    """

    def __init__(self, model, plan: ChainPlan, boundary: np.ndarray, chunk_values: int = 1 << 24,
                 top_groups: int | None = None, prior_ids: Sequence[int] | None = None):
        super().__init__()
        self.model = model
        self.body = model.get_decoder()
        self.head = model.get_output_embeddings()
        device = self.head.weight.device
        self.softcap = logit_softcap(model)
        self.plan = plan
        self.edge_query = torch.as_tensor([q for q, _ in plan.edges], dtype=torch.long, device=device)
        self.edge_token = torch.as_tensor([t for _, t in plan.edges], dtype=torch.long, device=device)
        self.query_token = torch.as_tensor([q[-1] for q in plan.queries], dtype=torch.long, device=device)
        self.boundary = torch.as_tensor(boundary, device=device)
        terms = [(w, e) for w, edges in enumerate(plan.word_edges) for e in edges]
        self.term_word = torch.as_tensor([w for w, _ in terms], dtype=torch.long, device=device)
        self.term_edge = torch.as_tensor([e for _, e in terms], dtype=torch.long, device=device)
        ends = [(w, q) for w, q in enumerate(plan.word_end) if q is not None]
        self.end_word = torch.as_tensor([w for w, _ in ends], dtype=torch.long, device=device)
        self.end_query = torch.as_tensor([q for _, q in ends], dtype=torch.long, device=device)
        self.chunk_values = chunk_values
        # Fixed queries are read for every prompt: the deeper ones and their ancestors, or all of them.
        deep = {q for q, prefix in enumerate(plan.queries) if len(prefix) > 1}
        for q in list(deep):
            while plan.parents[q] != ROOT:
                q = plan.parents[q]
                deep.add(q)
        selectable = [q for q in range(len(plan.queries)) if q not in deep]
        self.top_groups = None if top_groups is None or top_groups >= len(selectable) else top_groups
        self.exact_layout = self._layout(list(range(len(plan.queries))), 0)
        self.selectable = torch.as_tensor(selectable if self.top_groups else [], dtype=torch.long, device=device)
        self.layout = self.exact_layout if self.top_groups is None else self._layout(sorted(deep), self.top_groups)
        self.prior = None
        if self.top_groups is not None:
            if prior_ids is None:
                raise ValueError("chain projection with top_groups needs prior_ids (a prompt with no document)")
            ids = torch.as_tensor([list(prior_ids)], device=device)
            self.prior = self._scores_and_reads(ids, torch.ones_like(ids), self.exact_layout)[2:]

    def _layout(self, fixed: list[int], free: int) -> dict:
        """Slots of the extra tokens, depth by depth: the fixed queries (a query id each) with `free` slots
        after the depth-1 ones (filled per prompt); each slot's depth; and which slots each attends to
        (itself and its ancestors)."""
        queries = self.plan.queries
        fixed = sorted(fixed, key=lambda q: (len(queries[q]), q))
        slots, depths = [], []
        for depth in sorted({len(queries[q]) for q in fixed} | ({1} if free else set())):
            level = [q for q in fixed if len(queries[q]) == depth] + ([-1] * free if depth == 1 else [])
            slots += level
            depths += [depth] * len(level)
        slot_of = {q: s for s, q in enumerate(slots) if q >= 0}
        tree = np.eye(len(slots), dtype=bool)
        for s, q in enumerate(slots):
            while q >= 0 and self.plan.parents[q] != ROOT:
                q = self.plan.parents[q]
                tree[s, slot_of[q]] = True
        device = self.head.weight.device
        free_slots = [s for s, q in enumerate(slots) if q < 0]
        return {"depths": torch.as_tensor(depths, dtype=torch.long, device=device),
                "slots": torch.as_tensor(slots, dtype=torch.long, device=device),
                "tree": torch.as_tensor(tree, device=device),
                "free": torch.as_tensor(free_slots, dtype=torch.long, device=device)}

    def log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """fp32 log-softmax over the LM's whole vocabulary of hidden states (..., d)."""
        return torch.log_softmax(apply_softcap(self.head(hidden).float(), self.softcap), dim=-1)

    def _read(self, hidden: torch.Tensor, queries: torch.Tensor, edge_lp: torch.Tensor, end_lp: torch.Tensor):
        """Write the log-probabilities of the edges leaving `queries` (B x n query ids, ROOT for the prompt's
        last position) and their end-of-word masses, from their hidden states (B x n x d), a few at a time."""
        batch, count = hidden.shape[:2]
        step = max(1, self.chunk_values // (batch * self.head.weight.shape[0]))
        rows_all = torch.arange(batch, device=hidden.device)
        for offset in range(0, count, step):
            lp = self.log_probs(hidden[:, offset : offset + step])
            chunk = queries[:, offset : offset + lp.shape[1]]
            # slot of each edge's query within this chunk, per row (-1: not here)
            where = (chunk[:, :, None] == self.edge_query[None, None, :])  # B x c x E
            present = where.any(1)
            rows, edges = present.nonzero(as_tuple=True)
            slots = where.float().argmax(1)[rows, edges]
            edge_lp[rows, edges] = lp[rows, slots, self.edge_token[edges]]
            if chunk.ge(0).any():
                ends = lp[:, :, self.boundary].logsumexp(-1)
                valid = chunk >= 0
                end_lp[rows_all[:, None].expand_as(chunk)[valid], chunk[valid]] = ends[valid]

    def _scores_and_reads(self, input_ids, attention_mask, layout, prior=None):
        batch = input_ids.shape[0]
        out = self.body(input_ids=input_ids, attention_mask=attention_mask,
                        position_ids=left_padded_positions(attention_mask), use_cache=True)
        last = out.last_hidden_state[:, -1, :]
        cache_key = "cache" if hasattr(out, "cache") else "past_key_values"  # its name before transformers 5.2x
        cache = getattr(out, cache_key)
        device = last.device
        if prior is None:
            edge_lp = torch.zeros(batch, len(self.plan.edges), device=device)
            end_lp = torch.zeros(batch, len(self.plan.queries), device=device)
        else:
            edge_lp, end_lp = (p.expand(batch, -1).clone() for p in prior)
        root = torch.full((batch, 1), ROOT, dtype=torch.long, device=device)
        self._read(last[:, None, :], root, edge_lp, end_lp)
        slots = layout["slots"][None].expand(batch, -1).clone()
        if len(layout["free"]):  # the most probable prefixes after each prompt
            first = self.edge_token[self.edge_query == ROOT]
            root_lp = edge_lp[:, (self.edge_query == ROOT).nonzero().squeeze(-1)]
            prefix_lp = root_lp[:, (first[None, :] == self.query_token[self.selectable][:, None]).float().argmax(1)]
            chosen = prefix_lp.topk(len(layout["free"]), dim=-1).indices.sort(-1).values
            slots[:, layout["free"]] = self.selectable[chosen]
        if len(layout["slots"]):  # one step: every slot, each seeing the prompt and its own ancestors
            count = len(layout["slots"])
            tree = layout["tree"][None].expand(batch, -1, -1)
            allowed = torch.cat([attention_mask.bool()[:, None, :].expand(-1, count, -1), tree], dim=-1)[:, None]
            dtype = next(self.body.parameters()).dtype
            mask = torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill(~allowed, torch.finfo(dtype).min)
            lengths = attention_mask.long().sum(-1, keepdim=True)
            step = self.body(
                input_ids=self.query_token[slots],
                attention_mask=mask,
                position_ids=lengths + layout["depths"][None] - 1,
                **{cache_key: cache},
                use_cache=True,
            )
            self._read(step.last_hidden_state, slots, edge_lp, end_lp)
        scores = torch.zeros(batch, len(self.plan.word_edges), device=device)
        scores.index_add_(1, self.term_word, edge_lp[:, self.term_edge])
        scores.index_add_(1, self.end_word, end_lp[:, self.end_query])
        return scores, last.float(), edge_lp[:1], end_lp[:1]

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, exact: bool = False):
        """(scores over the words, last hidden state), both fp32, for each row (left-padded prompts).
        `exact` reads every prefix in context, whatever `top_groups` says."""
        layout, prior = (self.exact_layout, None) if exact or self.top_groups is None else (self.layout, self.prior)
        return self._scores_and_reads(input_ids, attention_mask, layout, prior)[:2]


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
