"""Benchmark: the LM stage in float32 against bfloat16 on this CPU, in one process, back to back.

Runs `softtopic.lm.extract` on the same BBC prompts in each dtype (alternating, `--rounds` times each, so
that load from other processes on a shared machine hits both alike), prints tokens/s per round and the
soft labels' divergence KL(p_fp32 || p_bf16) with p = softmax(logits / tau), mean and max over documents.
Also prints what `dtype: auto` picks here. Run it after the workflow has prepared corpus, vocabulary, LM:

    .venv/bin/python bench/lm_dtype.py --lm resources/lm/smollm2/lm.json --documents 256
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from lm_stage import bbc_arguments, bbc_prompts  # bench/ is on sys.path when run as a script

from softtopic.lm import cpu_has_native_bf16, extract, load_lm, resolve_dtype
from softtopic.softlabel import soft_label


def kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.sum(p * (np.log(np.clip(p, 1e-30, None)) - np.log(np.clip(q, 1e-30, None))), axis=1)


def main() -> None:
    parser = bbc_arguments(__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tau", type=float, default=3.0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    models = {dtype: load_lm(args.lm, dtype) for dtype in ("float32", "bfloat16")}
    tokenizer = models["float32"][1]
    prompts, ids, tokens = bbc_prompts(args, tokenizer)
    cpuinfo = Path("/proc/cpuinfo").read_text()
    print(f"{args.lm}: {len(prompts)} documents, {tokens} prompt tokens, |V| = {len(ids)}, {args.threads} threads; "
          f"native bf16 on this CPU: {cpu_has_native_bf16(cpuinfo)}, so dtype auto -> {resolve_dtype('auto', 'cpu')}")

    rates, logits = {dtype: [] for dtype in models}, {}
    for round_ in range(args.rounds):
        for dtype, (model, _) in models.items():
            with tempfile.TemporaryDirectory() as shards:
                start = time.perf_counter()
                logits[dtype], _, _ = extract(model, tokenizer, prompts, ids, shards, batch_size=args.batch_size,
                                              progress=False)
                rates[dtype].append(tokens / (time.perf_counter() - start))
            print(f"round {round_ + 1} {dtype:9s} {rates[dtype][-1]:8.1f} tokens/s")
    fp32, bf16 = (float(np.median(rates[d])) for d in ("float32", "bfloat16"))
    print(f"median tokens/s: float32 {fp32:.1f}, bfloat16 {bf16:.1f}, bfloat16/float32 = {bf16 / fp32:.2f}")
    p = soft_label(logits["float32"], args.tau).double().numpy()
    q = soft_label(logits["bfloat16"], args.tau).double().numpy()
    kl = kl_rows(p, q)
    top = (np.argmax(p, axis=1) == np.argmax(q, axis=1)).mean()
    print(f"KL(p_fp32 || p_bf16) at tau={args.tau:g}: mean {kl.mean():.2e}, max {kl.max():.2e}; "
          f"max |logit difference| {np.abs(logits['float32'] - logits['bfloat16']).max():.3f}; "
          f"same top word in {top:.1%} of documents")


if __name__ == "__main__":
    main()
