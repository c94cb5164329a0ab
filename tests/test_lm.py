import numpy as np
import pytest
import torch

from softtopic.lm import RestrictedHead, extract, plan_batches
from softtopic.prompting import PromptTemplate, project_vocabulary

WORDS = ["market", "shares", "election", "minister", "football", "match", "film", "music", "phone", "software"]
DOCS = [
    "Shares in the bank fell after the market closed.",
    "The minister called an early election.",
    "The striker scored twice in the football match.",
    "The film won three awards for its music.",
    "The new phone runs faster software.",
    "Shares in the bank fell after the market closed.",  # a duplicate: computed once
]


@pytest.fixture(scope="module")
def prompts():
    return [PromptTemplate().render(d) for d in DOCS]


def test_restricted_head_matches_full_head_with_left_padding(smollm2, prompts):
    model, tokenizer = smollm2
    ids = project_vocabulary(tokenizer, WORDS).token_ids
    head = RestrictedHead(model, ids)
    batch = tokenizer(prompts[:4], return_tensors="pt", padding=True)
    assert (batch["attention_mask"][:, 0] == 0).any(), "prompts of unequal length must be left-padded"
    logits, hidden = head(batch["input_ids"], batch["attention_mask"])
    assert logits.shape == (4, len(WORDS)) and hidden.shape == (4, model.config.hidden_size)
    for row, prompt in enumerate(prompts[:4]):  # each prompt alone, unpadded, through the full model
        single = tokenizer(prompt, return_tensors="pt")
        with torch.no_grad():
            out = model(**single, output_hidden_states=True)
        full = out.logits[0, -1, ids]
        torch.testing.assert_close(logits[row], full, atol=2e-4, rtol=1e-4)
        torch.testing.assert_close(hidden[row], out.hidden_states[-1][0, -1], atol=2e-4, rtol=1e-4)


def test_plan_batches_sorts_by_length_longest_first():
    assert plan_batches([3, 9, 5, 9, 1], 2) == [[1, 3], [2, 0], [4]]


def test_extract_dedupes_and_resumes_identically(smollm2, prompts, tmp_path):
    model, tokenizer = smollm2
    ids = project_vocabulary(tokenizer, WORDS).token_ids
    shards = tmp_path / "shards"
    logits, hidden, stats = extract(model, tokenizer, prompts, ids, shards, batch_size=2, batches_per_shard=1,
                                    progress=False)
    assert stats.unique_prompts == 5 and stats.documents == 6 and stats.shards_total == 3
    assert logits.dtype == np.float32 and logits.shape == (6, len(WORDS))
    np.testing.assert_array_equal(logits[0], logits[5])
    # A killed run: one shard is missing. The rerun computes only that one, and the same numbers.
    (shards / "shard-00001.npz").unlink()
    again_logits, again_hidden, again = extract(model, tokenizer, prompts, ids, shards, batch_size=2,
                                                batches_per_shard=1, progress=False)
    assert again.shards_resumed == 2 and again.tokens_computed < stats.tokens_computed
    np.testing.assert_array_equal(again_logits, logits)
    np.testing.assert_array_equal(again_hidden, hidden)
    # Other inputs (here another vocabulary) never reuse those shards.
    _, _, other = extract(model, tokenizer, prompts, ids[:5], shards, batch_size=2, batches_per_shard=1,
                          progress=False)
    assert other.shards_resumed == 0


def test_unreachable_hub_model_is_explained(tmp_path):
    from softtopic.lm import acquire_lm

    with pytest.raises(OSError, match="(?s)could not fetch LM 'no-such-org/no-such-model-7f3a'.*local directory"):
        acquire_lm("no-such-org/no-such-model-7f3a", tmp_path)
    assert not (tmp_path / "lm.json").exists()
