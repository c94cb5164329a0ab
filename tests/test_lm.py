import json

import numpy as np
import pytest
import torch

from softtopic.lm import (
    DTYPES,
    RestrictedHead,
    cpu_has_native_bf16,
    extract,
    gather_parts,
    load_lm,
    encode_prompts,
    partition_documents,
    plan_batches,
    resolve_dtype,
    resolve_token_budget,
    split_batches,
    token_budget_for,
)
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


def test_split_batches_keeps_whole_consecutive_batches_of_similar_cost():
    lengths = [10] * 8 + [5] * 8
    batches = plan_batches(lengths, 2)  # 4 batches of cost 20, then 4 of cost 10
    parts = split_batches(batches, lengths, 3)
    assert [n for part in parts for n in part] == list(range(8))  # each batch once, in order
    assert parts == [[0, 1], [2, 3], [4, 5, 6, 7]]
    assert split_batches(batches[:2], lengths, 4) == [[], [0], [], [1]]
    with pytest.raises(ValueError, match="at least 1 job"):
        split_batches(batches, lengths, 0)


def test_each_job_runs_the_batches_one_job_would(smollm2, prompts, tmp_path):
    model, tokenizer = smollm2
    ids = project_vocabulary(tokenizer, WORDS).token_ids
    whole, whole_hidden, _ = extract(model, tokenizer, prompts, ids, tmp_path / "one", batch_size=2,
                                     progress=False)
    jobs = partition_documents(prompts, tokenizer, 2, 3)
    assert sorted(i for job in jobs for i in job) == list(range(len(prompts)))
    assert any(0 in job and 5 in job for job in jobs), "identical prompts stay in one job"
    files = []
    for number, documents in enumerate(jobs):
        logits, hidden, stats = extract(model, tokenizer, [prompts[i] for i in documents], ids,
                                        tmp_path / f"part{number}", batch_size=2, progress=False)
        files.append(tmp_path / f"{number}.npz")
        np.savez(files[-1], documents=np.asarray(documents), total_documents=len(prompts), logits=logits,
                 hidden=hidden, meta=json.dumps({"extraction": stats.as_dict()}))
    logits, hidden, meta = gather_parts(files)
    np.testing.assert_array_equal(logits, whole)  # the same batches, so the same numbers
    np.testing.assert_array_equal(hidden, whole_hidden)
    assert meta["extraction"]["jobs"] == 3 and meta["extraction"]["unique_prompts"] == 5
    with pytest.raises(ValueError, match="exactly once"):
        gather_parts(files[:2])


EPYC_AVX2 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2 fma\nbugs\t\t: sysret_ss_attrs\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
GENOA = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"


def test_dtype_auto_is_bf16_on_cuda_and_on_cpus_with_native_bf16_only():
    assert not cpu_has_native_bf16(EPYC_AVX2) and not cpu_has_native_bf16("")
    assert cpu_has_native_bf16(SAPPHIRE) and cpu_has_native_bf16(GENOA)
    assert not cpu_has_native_bf16("flags\t\t: avx512f\nbugs\t\t: avx512_bf16\n")  # only the flags line counts
    assert resolve_dtype("auto", "cuda", EPYC_AVX2) == "bfloat16"
    assert resolve_dtype("auto", "cuda:1", "") == "bfloat16"
    assert resolve_dtype("auto", "cpu", EPYC_AVX2) == "float32"
    assert resolve_dtype("auto", "cpu", GENOA) == "bfloat16"
    assert resolve_dtype("float32", "cuda", SAPPHIRE) == "float32"


def test_load_lm_takes_dtype_auto(smollm2_manifest):
    """Every LM user (the LM stage, the local rater) may pass the config's `auto` straight through."""
    model, _ = load_lm(smollm2_manifest, "auto", "cpu")
    assert next(model.parameters()).dtype == DTYPES[resolve_dtype("auto", "cpu")]


def test_plan_batches_by_token_budget_fills_each_forward_pass():
    lengths = [100, 10, 60, 10, 40, 10, 10]
    assert plan_batches(lengths, 2, token_budget=None) == [[0, 2], [4, 1], [3, 5], [6]]  # unchanged
    # 100 alone (200 > 150); 60+40 -> 2 x 60 = 120 <= 150, a third would be 180; then four 10s = 40.
    assert plan_batches(lengths, 2, token_budget=150) == [[0], [2, 4], [1, 3, 5, 6]]
    assert plan_batches(lengths, 2, token_budget=50) == [[0], [2], [4], [1, 3, 5, 6]]  # too long: alone
    batches = plan_batches(list(range(1, 500)), 16, token_budget=4096)
    assert sorted(i for b in batches for i in b) == list(range(499))
    assert all(len(b) * max(range(1, 500)[i] for i in b) <= 4096 for b in batches)


def test_token_budget_is_sized_from_memory_and_only_on_cuda():
    smollm2 = type("Config", (), {"hidden_size": 576, "intermediate_size": 1536})()
    llama8b = type("Config", (), {"hidden_size": 4096, "intermediate_size": 14336})()
    h200_left = 141 * 10**9 - 16 * 10**9  # an H200 less the bf16 weights of an 8B model
    assert token_budget_for(h200_left, smollm2, 2) == 1 << 18  # capped
    budget = token_budget_for(h200_left, llama8b, 2)
    assert budget == 1 << 18 and token_budget_for(2 * 10**9, llama8b, 2) == 4096
    assert token_budget_for(2 * 10**9, llama8b, 4) == 2048  # fp32 activations take twice the room
    with pytest.raises(ValueError, match="no room for activations"):
        token_budget_for(1000, llama8b, 2)
    assert resolve_token_budget("auto", model=None, device="cpu") is None  # the CPU path keeps batch_size
    assert resolve_token_budget(8192, model=None, device="cuda") == 8192


def test_jobs_split_the_token_budget_plan_identically(smollm2, prompts, tmp_path):
    model, tokenizer = smollm2
    ids = project_vocabulary(tokenizer, WORDS).token_ids
    budget = 2 * max(len(x) for x in tokenizer(prompts)["input_ids"])
    whole, _, stats = extract(model, tokenizer, prompts, ids, tmp_path / "one", batch_size=1, progress=False,
                              token_budget=budget)
    assert stats.shards_total == 1
    jobs = partition_documents(prompts, tokenizer, 1, 2, token_budget=budget)
    for number, documents in enumerate(jobs):
        logits, _, _ = extract(model, tokenizer, [prompts[i] for i in documents], ids, tmp_path / str(number),
                               batch_size=1, progress=False, token_budget=budget)
        np.testing.assert_array_equal(logits, whole[documents])


def test_prompts_encoded_block_by_block_equal_one_call(smollm2, prompts):
    """Issue 17: the LM stage tokenises its prompts a block at a time (memory); the ids are one call's."""
    _, tokenizer = smollm2
    whole = tokenizer(list(prompts), add_special_tokens=True)["input_ids"]
    assert len(prompts) % 4 != 0  # the last block is a short one
    for block in (4, 8192):
        assert [ids.tolist() for ids in encode_prompts(tokenizer, prompts, block=block)] == whole
