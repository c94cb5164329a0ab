"""The `chain` projection: words sharing a first sub-token told apart by the sub-tokens after it."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from softtopic.chain import ROOT, ChainHead, naive_chain_scores, plan_chain, word_boundary_tokens
from softtopic.lm import check_chain_head, extract
from softtopic.prompting import project_vocabulary, word_pieces
from softtopic.softlabel import soft_label

# Sub-token ids of eight "words" over a 40-token LM vocabulary: 30 alone; 31.. share 31; 31 32 is a word
# and also the start of 31 32 33 and 31 32 34 (it ends where they go on); 35 36 / 35 37 share 35.
PIECES = [[30], [31, 32], [31, 32, 33], [31, 32, 34], [31, 38], [35, 36], [35, 37], [39]]
SHARED = [1, 2, 3, 4, 5, 6]
UNIQUE = [0, 7]
LM_VOCABULARY = 40


def test_plan_reads_each_group_only_as_deep_as_it_branches():
    plan = plan_chain(PIECES)
    assert plan.queries == [(31,), (35,), (31, 32)] and plan.parents == [ROOT, ROOT, 0]
    assert plan.depth == 2
    assert [plan.path(w) for w in range(len(PIECES))] == [[30], [31, 32], [31, 32, 33], [31, 32, 34], [31, 38],
                                                         [35, 36], [35, 37], [39]]
    assert plan.word_end == [None, 2, None, None, None, None, None, None]  # 31 32 ends where 33, 34 go on
    # A word longer than needed is read only until told apart; identical sub-tokens stay tied.
    longer = plan_chain([[5, 6, 7, 8], [5, 9], [4, 1], [4, 1]])
    assert longer.path(0) == [5, 6] and longer.path(1) == [5, 9]
    assert longer.path(2) == longer.path(3) == [4] and longer.queries == [(5,)]


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=LM_VOCABULARY, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, pad_token_id=0, initializer_range=0.5,
                         tie_word_embeddings=False)
    return LlamaForCausalLM(config).eval()


BOUNDARY = np.arange(LM_VOCABULARY) % 3 == 0
PROMPTS = [[1, 5, 9, 2], [3, 4, 4, 8, 12, 7, 2], [6, 2]]  # different lengths: left padding in one batch


def left_padded(prompts):
    width = max(map(len, prompts))
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def test_batched_cached_scores_equal_each_word_run_through_the_model(lm):
    plan = plan_chain(PIECES)
    head = ChainHead(lm, plan, BOUNDARY, chunk_values=LM_VOCABULARY * 3)  # a few queries at a time
    layout = head.exact_layout  # one step for both depths; (31 32) attends to (31) and itself
    assert layout["depths"].tolist() == [1, 1, 2] and layout["slots"].tolist() == [0, 1, 2]
    assert layout["tree"].tolist() == [[True, False, False], [False, True, False], [True, False, True]]
    scores, hidden = head(*left_padded(PROMPTS))
    for row, prompt in enumerate(PROMPTS):
        reference = naive_chain_scores(lm, prompt, plan, BOUNDARY, range(len(PIECES)))
        np.testing.assert_allclose(scores[row].numpy(), reference, atol=2e-5, rtol=1e-5)
        alone = lm.model(input_ids=torch.tensor([prompt])).last_hidden_state[0, -1]
        np.testing.assert_allclose(hidden[row].numpy(), alone.detach().numpy(), atol=2e-5, rtol=1e-5)
    # The pieces of the reference by hand, for one word ending inside the trie and one read two deep.
    lp = torch.log_softmax(lm(input_ids=torch.tensor([PROMPTS[0] + [31, 32]])).logits[0], -1).detach()
    n = len(PROMPTS[0])
    assert float(scores[0, 1]) == pytest.approx(float(lp[n - 1, 31] + lp[n, 32] + lp[n + 1, BOUNDARY].logsumexp(-1)),
                                                abs=2e-5)
    assert float(scores[0, 4]) == pytest.approx(float(
        lp[n - 1, 31] + torch.log_softmax(lm(input_ids=torch.tensor([PROMPTS[0] + [31]])).logits[0, -1].detach(), -1)[38]),
        abs=2e-5)


class OldCacheNames(torch.nn.Module):
    """A decoder as transformers before 5.2x exposes it: the KV cache is `past_key_values`, in and out."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, past_key_values=None, **kwargs):
        assert "cache" not in kwargs, "the chain passed the cache under the newer name"
        out = self.body(**kwargs, **({} if past_key_values is None else {"cache": past_key_values}))
        return SimpleNamespace(last_hidden_state=out.last_hidden_state, past_key_values=out.cache)


def test_the_chain_reads_and_passes_the_cache_under_the_name_the_model_uses(lm, monkeypatch):
    plan = plan_chain(PIECES)
    expected, _ = ChainHead(lm, plan, BOUNDARY)(*left_padded(PROMPTS))
    monkeypatch.setattr(lm, "get_decoder", lambda: OldCacheNames(lm.model))
    scores, _ = ChainHead(lm, plan, BOUNDARY)(*left_padded(PROMPTS))
    torch.testing.assert_close(scores, expected)


def test_words_of_a_shared_group_get_different_scores_and_at_most_their_prefix_probability(lm):
    scores, _ = ChainHead(lm, plan_chain(PIECES), BOUNDARY)(*left_padded(PROMPTS))
    first = torch.log_softmax(lm(input_ids=left_padded(PROMPTS)[0], attention_mask=left_padded(PROMPTS)[1],
                                 position_ids=(left_padded(PROMPTS)[1].cumsum(-1) - 1).clamp(min=0)).logits[:, -1],
                              -1).detach()
    for row in range(len(PROMPTS)):
        shared = scores[row, SHARED].numpy()
        assert len(set(np.round(shared, 5))) == len(SHARED), shared
        group_31 = torch.tensor([float(scores[row, w]) for w in (1, 2, 3, 4)]).logsumexp(0)
        assert float(group_31) <= float(first[row, 31]) + 1e-5  # the words split their prefix's mass
        np.testing.assert_allclose(scores[row, UNIQUE].numpy(), first[row, [30, 39]].numpy(), atol=2e-5)


def test_top_groups_reads_the_most_probable_prefixes_in_context_and_splits_the_others_as_the_prior(lm):
    pieces = PIECES + [[36, 1], [36, 2], [37, 1], [37, 2]]  # three one-deep groups (35, 36, 37) to choose from
    plan = plan_chain(pieces)
    prior = [4, 4, 2]
    head = ChainHead(lm, plan, BOUNDARY, top_groups=1, prior_ids=prior)
    assert head.top_groups == 1 and head.layout["slots"].tolist() == [0, -1, 4]  # 31 and 31 32 always
    ids, mask = left_padded(PROMPTS)
    scores = head(ids, mask)[0].numpy()
    exact = head(ids, mask, exact=True)[0].numpy()
    everything = range(len(pieces))
    before = naive_chain_scores(lm, prior, plan, BOUNDARY, everything)
    groups = {35: [5, 6], 36: [8, 9], 37: [10, 11]}
    chosen_somewhere = set()
    for row, prompt in enumerate(PROMPTS):
        in_context = naive_chain_scores(lm, prompt, plan, BOUNDARY, everything)
        np.testing.assert_allclose(exact[row], in_context, atol=2e-5)
        first = torch.log_softmax(lm(input_ids=torch.tensor([prompt])).logits[0, -1].detach(), -1)
        prior_first = torch.log_softmax(lm(input_ids=torch.tensor([prior])).logits[0, -1].detach(), -1)
        chosen = max(groups, key=lambda t: float(first[t]))
        chosen_somewhere.add(chosen)
        for token, words in groups.items():
            expected = (in_context[words] if token == chosen
                        else float(first[token]) + before[words] - float(prior_first[token]))
            np.testing.assert_allclose(scores[row, words], expected, atol=2e-5)
            assert scores[row, words[0]] != scores[row, words[1]]
        np.testing.assert_allclose(scores[row, :5], in_context[:5], atol=2e-5)  # the deep group: in context
    assert len(chosen_somewhere) > 1  # the prompts do not all pick the same prefix
    with pytest.raises(ValueError, match="needs prior_ids"):
        ChainHead(lm, plan, BOUNDARY, top_groups=1)
    assert ChainHead(lm, plan, BOUNDARY, top_groups=3).top_groups is None  # as many as there are: exact


def test_check_chain_head_raises_when_scores_disagree(lm):
    head = ChainHead(lm, plan_chain(PIECES), BOUNDARY)
    assert check_chain_head(head, PROMPTS[1], torch.float32) < 1e-4
    head.query_token = head.query_token.roll(1)  # each branching prefix fed the wrong last sub-token
    with pytest.raises(RuntimeError, match="chain projection scores differ"):
        check_chain_head(head, PROMPTS[1], torch.float32)


# ---------------------------------------------------------------- through `extract`, with a tokenizer
class CharTokenizer:
    """Characters as sub-tokens (a word's first letter is its first sub-token), enough for `extract`."""

    pad_token_id = 0
    all_special_ids = [0]
    SYMBOLS = ["[PAD]", " ", ".", *"abcdefghijklmnopqrstuvwxyz"]

    def __len__(self):
        return len(self.SYMBOLS)

    def __call__(self, texts, add_special_tokens=True, **_):
        encode = lambda text: [self.SYMBOLS.index(c) for c in text]  # noqa: E731
        return {"input_ids": encode(texts) if isinstance(texts, str) else [encode(t) for t in texts]}

    def pad(self, features, padding=True, return_tensors="pt"):
        ids, mask = left_padded(features["input_ids"])
        return {"input_ids": ids, "attention_mask": mask}

    def convert_ids_to_tokens(self, ids):
        return [self.SYMBOLS[i] for i in ids] if isinstance(ids, list) else self.SYMBOLS[ids]

    def batch_decode(self, rows):
        return ["".join(self.SYMBOLS[i] for i in row) for row in rows]

    def decode(self, ids):
        return self.batch_decode([ids])[0]


WORDS = ["japan", "jones", "june", "jun", "market", "film", "vote"]
TEXTS = ["the vote in japan.", "a film about june", "market up", "jones and the market fell"]


@pytest.fixture(scope="module")
def char_lm():
    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=len(CharTokenizer.SYMBOLS), hidden_size=16, intermediate_size=32,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, pad_token_id=0,
                         initializer_range=0.5, tie_word_embeddings=False)
    return LlamaForCausalLM(config).eval(), CharTokenizer()


def run(char_lm, tmp_path, words, projection):
    model, tokenizer = char_lm
    projected = project_vocabulary(tokenizer, words)
    chain = plan_chain(projected.pieces) if projection == "chain" else None
    return extract(model, tokenizer, TEXTS, projected.token_ids, tmp_path / projection, batch_size=2,
                   progress=False, chain=chain)


def test_boundary_tokens_of_the_char_tokenizer():
    assert word_boundary_tokens(CharTokenizer(), 31).tolist() == [True, True, True] + [False] * 28


def test_chain_through_extract_keeps_unique_words_soft_labels_and_splits_the_group(char_lm, tmp_path):
    before, hidden_before, _ = run(char_lm, tmp_path, WORDS, "first_token")
    after, hidden_after, stats = run(char_lm, tmp_path, WORDS, "chain")
    assert stats.chain_check_max_error is not None and stats.chain_check_max_error < 1e-4
    np.testing.assert_allclose(hidden_after, hidden_before, atol=1e-5)
    group, unique = [0, 1, 2, 3], [4, 5, 6]
    assert (before[:, group] == before[:, [0]]).all()  # the paper's projection: one logit for all j-words
    for row in after:
        assert len(set(np.round(row[group], 4))) == 4
    # Unique words: a log-probability is the logit less a per-document constant ...
    shift = after[:, unique] - before[:, unique]
    np.testing.assert_allclose(shift, shift[:, :1].repeat(3, axis=1), atol=1e-4)
    # ... so their soft labels relative to one another are the paper's, at any tau.
    for tau in (1.0, 3.0):
        np.testing.assert_allclose(soft_label(after[:, unique], tau), soft_label(before[:, unique], tau), atol=1e-5)
    # Without shared groups the chain projection's soft label is the paper's.
    plain, _, _ = run(char_lm, tmp_path / "plain", ["market", "film", "vote"], "first_token")
    chained, _, _ = run(char_lm, tmp_path / "plain", ["market", "film", "vote"], "chain")
    np.testing.assert_allclose(soft_label(chained, 3.0), soft_label(plain, 3.0), atol=1e-6)


def test_the_projection_is_part_of_the_shard_fingerprint(char_lm, tmp_path):
    model, tokenizer = char_lm
    projected = project_vocabulary(tokenizer, WORDS)
    shards = tmp_path / "shards"

    def resumed(chain):
        return extract(model, tokenizer, TEXTS, projected.token_ids, shards, batch_size=2, batches_per_shard=1,
                       progress=False, chain=chain)[2].shards_resumed

    assert resumed(None) == 0 and resumed(None) == 2
    assert resumed(plan_chain(projected.pieces)) == 0
    assert resumed(plan_chain(projected.pieces)) == 2
    assert resumed(None) == 0


# ---------------------------------------------------------------- the real SmolLM2
def test_smollm2_words_sharing_a_first_subtoken_get_different_scores(smollm2):
    model, tokenizer = smollm2
    words = ["japan", "jones", "june", "james", "market", "election"]
    projected = project_vocabulary(tokenizer, words)
    assert len(set(projected.token_ids[:4])) == 1 and len(set(projected.token_ids)) == 3  # " j"
    plan = plan_chain(projected.pieces)
    assert all(len(plan.path(w)) >= 2 for w in range(4)) and plan.path(4) == projected.pieces[4][:1]
    boundary = word_boundary_tokens(tokenizer, model.get_output_embeddings().weight.shape[0])
    for piece, expected in (("Ġthe", True), (",", True), ("Ċ", True), ("apan", False), ("ones", False)):
        assert boundary[tokenizer.convert_tokens_to_ids(piece)] == expected, piece
    assert boundary[tokenizer.eos_token_id]
    prompt = tokenizer("The prime minister of Japan met the president.\n\nTopic:")["input_ids"]
    head = ChainHead(model, plan, boundary)
    ids = torch.tensor([prompt])
    scores = head(ids, torch.ones_like(ids))[0][0].numpy()
    assert len(set(np.round(scores[:4], 3))) == 4
    assert scores[0] == max(scores[:4])  # japan, in a document about Japan
    np.testing.assert_allclose(scores, naive_chain_scores(model, prompt, plan, boundary, range(6)), atol=1e-3)
    assert word_pieces(tokenizer, "japan")[0] == projected.token_ids[0]
