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

from softtopic.files import atomic_write
from softtopic.lm import DocumentPass, partition_documents
from softtopic.prompting import PromptTemplate
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    settings = snakemake.params.lm
    part, parts = snakemake.params.part
    torch.set_num_threads(snakemake.threads)
    vocabulary = Path(snakemake.input.vocabulary).read_text().split()
    template = PromptTemplate(snakemake.params.instruction, snakemake.params.template)
    stage = DocumentPass.open(snakemake.input.manifest, vocabulary, template, settings)
    model, tokenizer, projection, device, dtype = stage.model, stage.tokenizer, stage.projection, stage.device, stage.dtype
    log.info("device %s, dtype %s (asked: %s), tokens per forward pass: %s", device, dtype, settings["dtype"],
             stage.token_budget or f"{settings['batch_size']} prompts")
    projection_meta = stage.projection_meta()
    if stage.chain is not None:
        log.info("chain projection: %s", projection_meta["chain"])
    elif projection.shared_words:
        log.warning(
            "%d of %d vocabulary words share their first LM sub-token with another word and get identical "
            "logits, e.g. %s (projection: chain tells them apart)",
            projection.shared_words, len(vocabulary), projection.summary(3)["example_groups"],
        )
    corpus = pd.read_parquet(snakemake.input.documents, columns=["doc_id", "text", "source_row"])
    texts = corpus["text"].tolist()
    prompts, truncated = stage.prompts(texts)
    documents = partition_documents(prompts, tokenizer, settings["batch_size"], parts, stage.token_budget)[part - 1]
    log.info("LM job %d of %d: %d of %d documents", part, parts, len(documents), len(prompts))
    if documents:
        names = [f"doc_id {corpus['doc_id'][i]} (source row {corpus['source_row'][i]})" for i in documents]
        logits, hidden, stats = stage.run([prompts[i] for i in documents], snakemake.params.shard_dir,
                                          document_ids=names)
        stats = stats.as_dict()  # the shards stay until gather_lm_outputs has the part: a rerun resumes them
    else:  # more jobs than batches: this one has nothing to compute
        hidden_size = model.get_output_embeddings().weight.shape[1]
        logits = np.zeros((0, len(projection.token_ids)), dtype=np.float32)
        hidden = np.zeros((0, hidden_size), dtype=np.float32)
        stats = dict.fromkeys(
            ["documents", "unique_prompts", "prompt_tokens", "tokens_computed_this_run", "seconds_computing",
             "shards_total", "shards_resumed"], 0) | {"tokens_per_second": None, "head_check_max_abs_error": None}
    meta = {
        "lm": stage.manifest,
        "dtype": dtype,
        "dtype_requested": settings["dtype"],
        "device": device,
        "token_budget": stage.token_budget,
        "instruction": template.instruction,
        "max_document_tokens": stage.max_document_tokens,
        "documents_truncated": truncated,
        "projection": projection_meta,
        "extraction": stats,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    with atomic_write(snakemake.output.part) as tmp:
        np.savez(tmp, documents=np.asarray(documents, dtype=np.int64), total_documents=len(prompts),
                 logits=logits, hidden=hidden, meta=json.dumps(meta))
    log.info("LM job %d of %d: %s", part, parts, stats)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
