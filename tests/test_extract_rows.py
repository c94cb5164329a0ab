"""The LM stage row by row: each row of `extract` is the restricted head run on that prompt alone."""

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

import softtopic.lm
from softtopic.lm import RestrictedHead, check_restricted_head, extract
from softtopic.prompting import PromptTemplate, project_vocabulary

from conftest import load_script

WORDS = ["market", "election", "football", "film", "software", "weather"]
# Lengths differ, so the length-sorted batches visit them in another order than this one; two duplicates.
DOCS = [
    "Rain.",
    "The minister called an early election after the vote on the budget failed in parliament.",
    "Shares fell.",
    "The striker scored twice in the football match on Saturday.",
    "Rain.",
    "The film won three awards.",
    "The new phone runs faster software than the old one did, reviewers said.",
    "Shares fell.",
]


@pytest.fixture(scope="module")
def prompts():
    return [PromptTemplate().render(d) for d in DOCS]


@pytest.fixture(scope="module")
def tiny_lm(prompts):
    """A two-layer random Llama and a word-level tokenizer over the prompts' words: real attention masks,
    rotary positions and left padding, in milliseconds."""
    pieces = sorted({w for p in prompts for w in re.findall(r"\w+|[^\w\s]", p)} | set(WORDS))
    vocabulary = {w: i for i, w in enumerate(["[PAD]", "[UNK]", *pieces])}
    backend = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]",
                                        padding_side="left")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocabulary), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, pad_token_id=0, initializer_range=0.5,
                         tie_word_embeddings=False)
    return LlamaForCausalLM(config).eval(), tokenizer


@pytest.fixture(scope="module")
def alone(tiny_lm, prompts):
    """Logits and hidden state of each prompt through the restricted head, one prompt per call."""
    model, tokenizer = tiny_lm
    head = RestrictedHead(model, project_vocabulary(tokenizer, WORDS).token_ids)
    rows = []
    for prompt in prompts:
        batch = tokenizer([prompt], return_tensors="pt")
        rows.append(head(batch["input_ids"], batch["attention_mask"]))
    return torch.cat([r[0] for r in rows]).numpy(), torch.cat([r[1] for r in rows]).numpy()


def run_extract(lm, prompts, shards, settings=None):
    model, tokenizer = lm
    ids = project_vocabulary(tokenizer, WORDS).token_ids
    return extract(model, tokenizer, prompts, ids, shards, batch_size=2, batches_per_shard=1, settings=settings,
                   progress=False)


def test_each_row_is_its_prompt_alone_through_dedup_and_resume(tiny_lm, prompts, alone, tmp_path):
    logits_alone, hidden_alone = alone
    assert len({tuple(np.round(row, 3)) for row in logits_alone}) == 6  # six distinct prompts, distinct rows
    logits, hidden, stats = run_extract(tiny_lm, prompts, tmp_path / "shards")
    assert stats.unique_prompts == 6 and stats.shards_total == 3 and stats.shards_resumed == 0
    assert stats.head_check_max_error is not None and stats.head_check_max_error < 1e-3
    np.testing.assert_allclose(logits, logits_alone, atol=2e-4, rtol=1e-4)
    np.testing.assert_allclose(hidden, hidden_alone, atol=2e-4, rtol=1e-4)
    np.testing.assert_array_equal(logits[0], logits[4])
    np.testing.assert_array_equal(hidden[2], hidden[7])
    for lost in ("shard-00000.npz", "shard-00002.npz"):  # killed runs: a shard is missing
        (tmp_path / "shards" / lost).unlink()
        again_logits, again_hidden, again = run_extract(tiny_lm, prompts, tmp_path / "shards")
        assert again.shards_resumed == 2
        np.testing.assert_array_equal(again_logits, logits)
        np.testing.assert_array_equal(again_hidden, hidden)


def test_a_changed_setting_discards_finished_shards(tiny_lm, prompts, tmp_path):
    shards = tmp_path / "shards"
    settings = {"dtype": "float32", "device": "cpu", "lm": {"source": "a"}}
    assert run_extract(tiny_lm, prompts, shards, settings)[2].shards_resumed == 0
    assert run_extract(tiny_lm, prompts, shards, settings)[2].shards_resumed == 3
    for key, value in (("dtype", "bfloat16"), ("device", "cuda"), ("lm", {"source": "b"})):
        settings = {**settings, key: value}
        assert run_extract(tiny_lm, prompts, shards, settings)[2].shards_resumed == 0, key


def test_shards_cut_another_way_are_discarded(tiny_lm, prompts, tmp_path):
    """Shard files are numbered by position: shards of 1 batch read as shards of 2 would skip batches."""
    model, tokenizer = tiny_lm
    ids = project_vocabulary(tokenizer, WORDS).token_ids
    logits, _, first = run_extract(tiny_lm, prompts, tmp_path / "shards")
    (tmp_path / "shards" / "shard-00000.npz").unlink()  # killed: shard 1 (batch 1) is left
    again, _, stats = extract(model, tokenizer, prompts, ids, tmp_path / "shards", batch_size=2, batches_per_shard=2,
                              progress=False)
    assert first.shards_total == 3 and stats.shards_total == 2 and stats.shards_resumed == 0
    np.testing.assert_array_equal(again, logits)


def test_check_restricted_head_raises_on_a_head_that_disagrees(tiny_lm, prompts):
    model, tokenizer = tiny_lm
    ids = project_vocabulary(tokenizer, WORDS).token_ids
    batch = tokenizer(prompts[:2], return_tensors="pt", padding=True)
    head = RestrictedHead(model, ids)
    assert check_restricted_head(head, batch, torch.float32) < 1e-3
    head.weight = head.weight.roll(1, dims=0)  # each word reads its neighbour's row
    with pytest.raises(RuntimeError, match="restricted LM head differs from the full head"):
        check_restricted_head(head, batch, torch.float32)
    head = RestrictedHead(model, ids)
    head.softcap = 1.0  # a post-processing the model does not do
    with pytest.raises(RuntimeError, match="differs"):
        check_restricted_head(head, batch, torch.float32)


# ---------------------------------------------------------------- what the LM job passes to `extract`
@pytest.fixture
def lm_job(tiny_lm, tmp_path, monkeypatch, script_globals):
    """Run scripts/lm_outputs.py's main on three documents; returns the `extract` calls' stats."""
    script = load_script("lm_outputs")
    monkeypatch.setattr(softtopic.lm, "load_lm", lambda manifest, dtype, device: tiny_lm)  # DocumentPass's
    pd.DataFrame({"doc_id": [10, 11, 12], "text": DOCS[1:4], "source_row": [29, 30, 31]}).to_parquet(
        tmp_path / "documents.parquet")
    (tmp_path / "vocabulary.txt").write_text("\n".join(WORDS) + "\n")
    calls = []
    real_extract = softtopic.lm.extract

    def spy(*args, **kwargs):
        result = real_extract(*args, progress=False, **{k: v for k, v in kwargs.items() if k != "progress"})
        calls.append(result[2])
        return result

    monkeypatch.setattr(softtopic.lm, "extract", spy)

    def run(manifest, **lm_settings):
        settings = {"device": "cpu", "dtype": "float32", "batch_size": 1, "shard_batches": 1,
                    "max_document_tokens": 32, "token_budget": "auto", "projection": "first_token", "chain_top_groups": None,
                    **lm_settings}
        job = SimpleNamespace(
            input=SimpleNamespace(manifest=str(manifest), vocabulary=str(tmp_path / "vocabulary.txt"),
                                  documents=str(tmp_path / "documents.parquet")),
            output=SimpleNamespace(part=str(tmp_path / "1-of-1.npz")),
            params=SimpleNamespace(lm=settings, instruction=PromptTemplate().instruction, template=PromptTemplate().template, part=(1, 1),
                                   shard_dir=str(tmp_path / "shards" / "1-of-1")),
            log=[str(tmp_path / "job.log")],
            threads=torch.get_num_threads(),
        )
        script.main(job)
        return calls[-1]

    return run


def test_lm_job_reuses_shards_only_for_the_same_dtype_device_and_lm(lm_job, tmp_path):
    manifests = []
    for source in ("first.gguf", "second.gguf"):  # two LMs (the job's load_lm is a stand-in)
        path = tmp_path / source / "lm.json"
        path.parent.mkdir()
        path.write_text(json.dumps({"source": source, "kind": "gguf", "load_path": "model"}))
        manifests.append(path)
    first, second = manifests
    assert lm_job(first).shards_resumed == 0
    assert lm_job(first).shards_resumed == 3
    assert lm_job(first, dtype="bfloat16").shards_resumed == 0
    assert lm_job(first, dtype="bfloat16", device="cpu:0").shards_resumed == 0
    assert lm_job(second, dtype="bfloat16", device="cpu:0").shards_resumed == 0
    assert lm_job(second, dtype="bfloat16", device="cpu:0").shards_resumed == 3
    assert lm_job(second, dtype="bfloat16", device="cpu:0", projection="chain").shards_resumed == 0
    assert lm_job(second, dtype="bfloat16", device="cpu:0", projection="chain").shards_resumed == 3
    meta = json.loads(str(np.load(tmp_path / "1-of-1.npz")["meta"]))
    assert meta["projection"]["method"] == "chain" and meta["projection"]["chain"]["extra_steps"] == 0


# ---------------------------------------------------------------- non-finite LM outputs
def poison(monkeypatch, tiny_lm, word):
    """Make the LM body return inf hidden states for every row whose prompt holds `word` (a bf16 overflow)."""
    model, tokenizer = tiny_lm
    body = model.get_decoder()
    marker = tokenizer.convert_tokens_to_ids(word)
    forward = body.forward

    def broken(*args, **kwargs):
        out = forward(*args, **kwargs)
        rows = (kwargs["input_ids"] == marker).any(-1)
        out.last_hidden_state[rows] = float("inf")
        return out

    monkeypatch.setattr(body, "forward", broken)
    return forward


def test_non_finite_lm_outputs_stop_extract_naming_the_documents(tiny_lm, prompts, tmp_path, monkeypatch):
    from softtopic.lm import NonFiniteOutputError

    poison(monkeypatch, tiny_lm, "Rain")  # documents 0 and 4 share that prompt
    with pytest.raises(NonFiniteOutputError, match=r"non-finite values \(inf or nan\) in its logits and hidden "
                                                   r"states for 2 document\(s\): 0, 4\. .*dtype: float32") as error:
        run_extract(tiny_lm, prompts, tmp_path / "shards")
    assert error.value.documents == [0, 4]
    saved = [np.load(path)["index"] for path in sorted((tmp_path / "shards").glob("shard-*.npz"))]
    assert saved  # the batches before it were kept for a rerun, none of its own
    finite = {i for index in saved for i in index}
    assert len(finite) < 6 and all(np.isfinite(np.load(p)["hidden"]).all() for p in (tmp_path / "shards").glob("shard-*"))


def test_lm_job_with_a_non_finite_document_names_its_doc_id_and_writes_no_part(lm_job, tiny_lm, tmp_path, monkeypatch):
    from softtopic.lm import NonFiniteOutputError

    manifest = tmp_path / "lm.json"
    manifest.write_text(json.dumps({"source": "x.gguf", "kind": "gguf", "load_path": "model"}))
    healthy = poison(monkeypatch, tiny_lm, "striker")  # the job's third document: doc_id 12, source row 31
    with pytest.raises(NonFiniteOutputError, match=r"for 1 document\(s\): doc_id 12 \(source row 31\)"):
        lm_job(manifest)
    assert not (tmp_path / "1-of-1.npz").exists()
    monkeypatch.setattr(tiny_lm[0].get_decoder(), "forward", healthy)
    assert lm_job(manifest).documents == 3 and (tmp_path / "1-of-1.npz").exists()


def test_a_finished_lm_job_leaves_its_shards_for_a_rerun(lm_job, tmp_path):
    """Issue 19: an orphaned LM job that finishes writes a part file that Snakemake then reruns (incomplete);
    its shards must still be there to resume, not be recomputed. gather_lm_outputs removes them."""
    manifest = tmp_path / "lm" / "lm.json"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps({"source": "x.gguf", "kind": "gguf", "load_path": "model"}))
    assert lm_job(manifest).shards_resumed == 0
    again = lm_job(manifest)
    assert again.shards_resumed == again.shards_total == 3 and again.tokens_computed == 0
