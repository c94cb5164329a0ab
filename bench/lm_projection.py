"""Benchmark: the LM stage with `projection: chain` against `first_token`, in one process, back to back.

Runs `softtopic.lm.extract` on the same prompts with each projection (alternating, `--rounds` times each,
so that load from other processes on a shared machine hits all alike): first_token, chain (every shared
first sub-token read in context) and chain with `chain_top_groups` N for each N in `--top-groups`. Prints
seconds per round, the median time ratios to first_token, wall clock and CPU time of this process (all its threads; steadier
when other processes load the machine) (target <= 1.3 on short documents), the chain
plan's size, how far the unique words' soft labels moved (they should not: a constant shift per
document), and KL(exact chain || top-N chain) of the soft labels at tau = 3. Run it after
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
from softtopic.prompting import PromptTemplate, project_vocabulary
from softtopic.softlabel import soft_label


def time_projections(model, tokenizer, prompts, ids, plan, top_groups, rounds, **extract_kwargs):
    """Seconds (wall, CPU) and scores per projection: first_token, chain, chain_top<N> for N in `top_groups`,
    alternating `rounds` times; prints each round and the medians' ratios to first_token."""
    prior = tokenizer(PromptTemplate().render(""))["input_ids"]
    variants = {"first_token": (None, None), "chain": (plan, None)}
    variants |= {f"chain_top{n}": (plan, n) for n in top_groups}
    seconds, cpu, scores = {name: [] for name in variants}, {name: [] for name in variants}, {}
    for round_ in range(rounds):
        for name, (chain, top) in variants.items():
            with tempfile.TemporaryDirectory() as shards:
                start, start_cpu = time.perf_counter(), time.process_time()
                scores[name], _, _ = extract(model, tokenizer, prompts, ids, shards, progress=False, chain=chain,
                                             chain_top_groups=top, chain_prior_ids=prior, **extract_kwargs)
                seconds[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
            print(f"round {round_ + 1} {name:13s} {seconds[name][-1]:7.1f} s wall {cpu[name][-1]:7.1f} s CPU", flush=True)
    first, first_cpu = float(np.median(seconds["first_token"])), float(np.median(cpu["first_token"]))
    for name in variants:
        median, median_cpu = float(np.median(seconds[name])), float(np.median(cpu[name]))
        print(f"median {name:13s} {median:7.2f} s wall x{median / first:.2f}, {median_cpu:7.1f} s CPU "
              f"x{median_cpu / first_cpu:.2f} first_token")
    return scores


def main() -> None:
    parser = bbc_arguments(__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--top-groups", type=int, nargs="*", default=[8])
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model, tokenizer = load_lm(args.lm)
    prompts, ids, tokens = bbc_prompts(args, tokenizer)
    projection = project_vocabulary(tokenizer, Path(args.vocabulary).read_text().split())
    plan = plan_chain(projection.pieces)
    print(f"{args.lm}: {len(prompts)} documents, {tokens} prompt tokens ({tokens / len(prompts):.1f} per prompt), "
          f"|V| = {len(ids)}, {projection.shared_words} words share a first sub-token; chain plan {plan.summary()}; "
          f"{args.threads} threads")
    scores = time_projections(model, tokenizer, prompts, ids, plan, args.top_groups, args.rounds,
                              batch_size=args.batch_size)
    exact = soft_label(scores["chain"], 3.0).double().numpy()
    for n in args.top_groups:
        approx = soft_label(scores[f"chain_top{n}"], 3.0).double().numpy()
        kl = np.sum(exact * (np.log(exact) - np.log(approx)), axis=1)
        print(f"KL(chain || chain_top{n}) of the soft labels at tau=3: mean {kl.mean():.2e}, max {kl.max():.2e}")
    shared = {i for i, token in enumerate(projection.token_ids) if token in projection.shared_groups}
    unique = [i for i in range(len(ids)) if i not in shared]
    shift = scores["chain"][:, unique] - scores["first_token"][:, unique]
    print(f"unique words: chain score - first_token logit varies within a document by at most "
          f"{float((shift.max(1) - shift.min(1)).max()):.2e} (a constant shift keeps their soft labels)")


if __name__ == "__main__":
    main()
