"""Benchmark: the LM stage against the naive way, on the same documents, in one run.

naive     one prompt at a time, the model's own forward (full LM head at every position), gather V
batched   batches of `--batch-size` in corpus order (left padding), full LM head, last position only
softtopic `softtopic.lm.extract`: batches sorted by length, duplicates once, only the |V| head rows

Prints tokens/s per variant, the speed-up over naive, and the largest logit difference to naive.
Run it after the workflow has prepared the corpus, vocabulary and LM, e.g.

    .venv/bin/python bench/lm_stage.py --lm resources/lm/smollm2/lm.json --documents 256
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from softtopic.lm import RestrictedHead, extract, load_lm
from softtopic.prompting import PromptTemplate, project_vocabulary, truncate_document


def naive(model, tokenizer, prompts, ids):
    rows = []
    for prompt in prompts:
        batch = tokenizer(prompt, return_tensors="pt")
        with torch.inference_mode():
            rows.append(model(**batch).logits[0, -1, ids].float().numpy())
    return np.stack(rows)


def batched(model, tokenizer, prompts, ids, batch_size):
    head = RestrictedHead(model, ids)
    rows = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True)
        rows.append(head.full_logits(batch["input_ids"], batch["attention_mask"]).numpy())
    return np.concatenate(rows)


def bbc_arguments(description: str) -> argparse.ArgumentParser:
    """The options every LM benchmark takes: which LM, corpus, vocabulary, how many documents, how cut."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", required=True, help="an LM manifest, resources/lm/<lm>/lm.json")
    parser.add_argument("--corpus", default="results/bbc/corpus/documents.parquet")
    parser.add_argument("--vocabulary", default="results/bbc/vocabulary/vocabulary.txt")
    parser.add_argument("--documents", type=int, default=256)
    parser.add_argument("--max-document-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    return parser


def bbc_prompts(args, tokenizer) -> tuple[list[str], list[int], int]:
    """(prompts, vocabulary token ids, prompt tokens) for the first `--documents` documents."""
    words = Path(args.vocabulary).read_text().split()
    ids = project_vocabulary(tokenizer, words).token_ids
    texts = pd.read_parquet(args.corpus, columns=["text"])["text"].tolist()[: args.documents]
    template = PromptTemplate()
    prompts = [template.render(truncate_document(tokenizer, t, args.max_document_tokens)[0]) for t in texts]
    tokens = sum(len(ids_) for ids_ in tokenizer(prompts)["input_ids"])
    return prompts, ids, tokens


def main() -> None:
    args = bbc_arguments(__doc__).parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = load_lm(args.lm)
    prompts, ids, tokens = bbc_prompts(args, tokenizer)
    print(f"{args.lm}: {len(prompts)} documents, {tokens} prompt tokens, |V| = {len(ids)}, "
          f"LM vocabulary {model.get_output_embeddings().weight.shape[0]}, {args.threads} threads")

    timings, outputs = {}, {}
    for name in ("naive", "batched", "softtopic"):
        start = time.perf_counter()
        if name == "naive":
            outputs[name] = naive(model, tokenizer, prompts, ids)
        elif name == "batched":
            outputs[name] = batched(model, tokenizer, prompts, ids, args.batch_size)
        else:
            with tempfile.TemporaryDirectory() as shards:
                outputs[name], _, _ = extract(model, tokenizer, prompts, ids, shards, batch_size=args.batch_size,
                                              progress=False)
        timings[name] = time.perf_counter() - start
    for name, seconds in timings.items():
        error = float(np.abs(outputs[name] - outputs["naive"]).max())
        print(f"  {name:10s} {seconds:7.1f} s  {tokens / seconds:7.1f} tokens/s  "
              f"x{timings['naive'] / seconds:4.2f} vs naive  max |logit - naive| = {error:.2e}")


if __name__ == "__main__":
    main()
