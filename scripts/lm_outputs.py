"""One LM job's slice of a corpus -> tau-free logits over V, last hidden states and metadata (a part file).

With `lms.<lm>.jobs: N` the corpus is split into N such jobs (whole batches of the one-job plan each),
and gather_lm_outputs.py joins their part files into the arrays that one job would have written.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import transformers

from softtopic.lm import extract, load_lm, partition_documents, pick_device, resolve_dtype, resolve_token_budget
from softtopic.chain import plan_chain
from softtopic.prompting import PromptTemplate, project_vocabulary, truncate_document
from softtopic.workflow import script_logging


def context_limit(model, tokenizer) -> int | None:
    """The longest prompt the model accepts, if it says."""
    limits = [getattr(model.config, "max_position_embeddings", None), tokenizer.model_max_length]
    limits = [n for n in limits if isinstance(n, int) and 0 < n < 10**7]
    return min(limits) if limits else None


def main(snakemake):
    log = script_logging(snakemake.log[0])
    settings = snakemake.params.lm
    part, parts = snakemake.params.part
    torch.set_num_threads(snakemake.threads)
    device = pick_device(settings["device"])
    dtype = resolve_dtype(settings["dtype"], device)
    model, tokenizer = load_lm(snakemake.input.manifest, dtype, device)
    token_budget = resolve_token_budget(settings["token_budget"], model, device)
    log.info("device %s, dtype %s (asked: %s), tokens per forward pass: %s", device, dtype, settings["dtype"],
             token_budget or f"{settings['batch_size']} prompts")
    vocabulary = Path(snakemake.input.vocabulary).read_text().split()
    projection = project_vocabulary(tokenizer, vocabulary)
    chain = plan_chain(projection.pieces) if settings["projection"] == "chain" else None
    top_groups = settings["chain_top_groups"] if chain is not None else None
    projection_meta = {"method": settings["projection"], **projection.summary()}
    if chain is not None:
        projection_meta["chain"] = {**chain.summary(), "top_groups": top_groups}
        log.info("chain projection: %s", projection_meta["chain"])
    elif projection.shared_words:
        log.warning(
            "%d of %d vocabulary words share their first LM sub-token with another word and get identical "
            "logits, e.g. %s (projection: chain tells them apart)",
            projection.shared_words, len(vocabulary), projection.summary(3)["example_groups"],
        )
    template = PromptTemplate(snakemake.params.instruction, snakemake.params.template)
    max_tokens = settings["max_document_tokens"]
    limit = context_limit(model, tokenizer)
    if limit is not None:
        max_tokens = max(1, min(max_tokens, limit - template.overhead_tokens(tokenizer) - 2))
    texts = pd.read_parquet(snakemake.input.documents, columns=["text"])["text"].tolist()
    cut = [truncate_document(tokenizer, text, max_tokens) for text in texts]
    prompts = [template.render(text) for text, _ in cut]
    documents = partition_documents(prompts, tokenizer, settings["batch_size"], parts, token_budget)[part - 1]
    log.info("LM job %d of %d: %d of %d documents", part, parts, len(documents), len(prompts))
    manifest = json.loads(Path(snakemake.input.manifest).read_text())
    if documents:
        logits, hidden, stats = extract(
            model, tokenizer, [prompts[i] for i in documents], projection.token_ids, snakemake.params.shard_dir,
            batch_size=settings["batch_size"], batches_per_shard=settings["shard_batches"],
            settings={"dtype": dtype, "device": device, "lm": manifest, "chain_top_groups": top_groups},
            token_budget=token_budget, chain=chain, chain_top_groups=top_groups,
            chain_prior_ids=tokenizer(template.render(""))["input_ids"],
        )
        stats = stats.as_dict()  # the shards stay until gather_lm_outputs has the part: a rerun resumes them
    else:  # more jobs than batches: this one has nothing to compute
        hidden_size = model.get_output_embeddings().weight.shape[1]
        logits = np.zeros((0, len(projection.token_ids)), dtype=np.float32)
        hidden = np.zeros((0, hidden_size), dtype=np.float32)
        stats = dict.fromkeys(
            ["documents", "unique_prompts", "prompt_tokens", "tokens_computed_this_run", "seconds_computing",
             "shards_total", "shards_resumed"], 0) | {"tokens_per_second": None, "head_check_max_abs_error": None}
    meta = {
        "lm": manifest,
        "dtype": dtype,
        "dtype_requested": settings["dtype"],
        "device": device,
        "token_budget": token_budget,
        "instruction": template.instruction,
        "max_document_tokens": max_tokens,
        "documents_truncated": int(sum(was_cut for _, was_cut in cut)),
        "projection": projection_meta,
        "extraction": stats,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    np.savez(
        snakemake.output.part, documents=np.asarray(documents, dtype=np.int64), total_documents=len(prompts),
        logits=logits, hidden=hidden, meta=json.dumps(meta),
    )
    log.info("LM job %d of %d: %s", part, parts, stats)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
