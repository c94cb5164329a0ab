"""Benchmark: the LM stage with `projection: chain` against `first_token`, in one process, back to back.

Runs `softtopic.lm.extract` on the same prompts with each projection (alternating, `--rounds` times each,
so that load from other processes on a shared machine hits both alike) and prints seconds per round, the
median time ratio chain / first_token (target <= 1.3 on short documents), the chain plan's size, and how
far the unique words' soft labels moved (they should not: a constant shift per document). Run it after
the workflow has prepared the corpus, vocabulary and LM, e.g. on StackOverflow titles:

    nice -n 10 .venv/bin/python bench/lm_projection.py --lm resources/lm/smollm2/lm.json \\
        --corpus results/stackoverflow/corpus/documents.parquet \\
        --vocabulary results/stackoverflow/vocabulary/vocabulary.txt --documents 256
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from lm_stage import bbc_arguments, bbc_prompts  # bench/ is on sys.path when run as a script

from softtopic.chain import plan_chain
from softtopic.lm import extract, load_lm
from softtopic.prompting import project_vocabulary


def main() -> None:
    parser = bbc_arguments(__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model, tokenizer = load_lm(args.lm)
    prompts, ids, tokens = bbc_prompts(args, tokenizer)
    projection = project_vocabulary(tokenizer, Path(args.vocabulary).read_text().split())
    plan = plan_chain(projection.pieces)
    print(f"{args.lm}: {len(prompts)} documents, {tokens} prompt tokens ({tokens / len(prompts):.1f} per prompt), "
          f"|V| = {len(ids)}, {projection.shared_words} words share a first sub-token; chain plan {plan.summary()}; "
          f"{args.threads} threads")

    seconds, scores = {"first_token": [], "chain": []}, {}
    for round_ in range(args.rounds):
        for name, chain in (("first_token", None), ("chain", plan)):
            with tempfile.TemporaryDirectory() as shards:
                start = time.perf_counter()
                scores[name], _, _ = extract(model, tokenizer, prompts, ids, shards, batch_size=args.batch_size,
                                             progress=False, chain=chain)
                seconds[name].append(time.perf_counter() - start)
            print(f"round {round_ + 1} {name:11s} {seconds[name][-1]:7.1f} s")
    first, chain = (float(np.median(seconds[n])) for n in ("first_token", "chain"))
    print(f"median seconds: first_token {first:.1f}, chain {chain:.1f}, chain / first_token = {chain / first:.2f}")
    shared = {i for i, token in enumerate(projection.token_ids) if token in projection.shared_groups}
    unique = [i for i in range(len(ids)) if i not in shared]
    shift = scores["chain"][:, unique] - scores["first_token"][:, unique]
    print(f"unique words: chain score - first_token logit varies within a document by at most "
          f"{float((shift.max(1) - shift.min(1)).max()):.2e} (a constant shift keeps their soft labels)")


if __name__ == "__main__":
    main()
