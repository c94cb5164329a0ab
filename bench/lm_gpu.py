"""Benchmark for a GPU: the LM stage's throughput with a fixed batch of prompts against a token budget.

Random weights in the real architectures (no download): the SmolLM2-135M shape and a Llama-3.1-8B
shape, in bf16 on CUDA (what `dtype: auto` picks there). Prompts are BBC documents cut at
`--max-document-tokens` and tokenized by SmolLM2's tokenizer (its ids are valid for both shapes).
For each shape: `softtopic.lm.extract` with `batch_size` prompts per pass (the CPU default, 16) and
with the token budget that `token_budget: auto` sizes from the card's memory; prints tokens/s and
the matrix-product TFLOP/s that this throughput means (2 x non-embedding parameters per token, plus
attention). With `--chain-corpus` and `--chain-vocabulary` (short documents, e.g. StackOverflow titles),
also the `chain` projection's cost against `first_token` in the SmolLM2 shape under that budget
(bench/lm_projection.py's timing; random weights pick other top groups, the work is the same).
Needs the workflow's corpus, vocabulary and SmolLM2's tokenizer (only the tokenizer files of its manifest):

    .venv/bin/python bench/lm_gpu.py --lm resources/lm/smollm2/lm.json --documents 2048 \
        --chain-corpus results/stackoverflow/corpus/documents.parquet \
        --chain-vocabulary results/stackoverflow/vocabulary/vocabulary.txt

On a CPU it runs too (`--shapes smollm2 --documents 16`): a check that the script works, not a figure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from lm_projection import time_projections  # bench/ is on sys.path when run as a script
from lm_stage import bbc_arguments, bbc_prompts
from transformers import LlamaConfig, LlamaForCausalLM

from softtopic.chain import plan_chain
from softtopic.lm import extract, load_tokenizer, pick_device, resolve_dtype, resolve_token_budget
from softtopic.prompting import project_vocabulary

SHAPES = {
    "smollm2": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                    num_key_value_heads=3, vocab_size=49152, tie_word_embeddings=True, rope_theta=100000.0),
    "llama8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                    num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=False, rope_theta=500000.0),
}


def flops_per_token(config: LlamaConfig, length: float) -> float:
    h, i, n = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    kv = h * config.num_key_value_heads // config.num_attention_heads
    per_layer = 2 * (h * h * 2 + 2 * h * kv + 3 * h * i) + 2 * 2 * length * h  # projections, MLP, attention
    return n * per_layer


def main() -> None:
    parser = bbc_arguments(__doc__)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--chain-corpus", help="short documents for the chain projection's cost")
    parser.add_argument("--chain-vocabulary")
    parser.add_argument("--chain-documents", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.set_defaults(max_document_tokens=512, documents=2048)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device("auto")
    dtype = resolve_dtype("auto", device)
    tokenizer = load_tokenizer(args.lm)
    prompts, ids, tokens = bbc_prompts(args, tokenizer)
    print(f"{device} ({torch.cuda.get_device_name() if device == 'cuda' else 'CPU'}), {dtype}, "
          f"{len(prompts)} prompts, {tokens} tokens")
    for shape in args.shapes:
        config = LlamaConfig(**SHAPES[shape], max_position_embeddings=8192)
        torch.manual_seed(0)
        with torch.device(device):
            model = LlamaForCausalLM(config).to(getattr(torch, dtype)).eval()
        budget = resolve_token_budget("auto", model, device)
        for label, kwargs in ((f"{args.batch_size} prompts", {}), (f"budget {budget} tokens", {"token_budget": budget})):
            if label.startswith("budget") and budget is None:
                continue
            with tempfile.TemporaryDirectory() as shards:
                extract(model, tokenizer, prompts[:8], ids, shards, batch_size=args.batch_size, progress=False,
                        **kwargs)  # warm-up
            if device == "cuda":
                torch.cuda.synchronize()
            with tempfile.TemporaryDirectory() as shards:
                start = time.perf_counter()
                extract(model, tokenizer, prompts, ids, shards, batch_size=args.batch_size, progress=False, **kwargs)
                if device == "cuda":
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - start
            rate = tokens / seconds
            tflops = rate * flops_per_token(config, tokens / len(prompts) / 2) / 1e12
            print(f"{shape:8s} {label:22s} {rate:10.0f} tokens/s  {tflops:7.1f} TFLOP/s")
        if shape == "smollm2" and args.chain_corpus:
            chain_cost(args, model, tokenizer, budget)
        del model
        if device == "cuda":
            torch.cuda.empty_cache()


def chain_cost(args, model, tokenizer, budget) -> None:
    """first_token against chain (exact and top-8) on the short documents, under the token budget."""
    short = argparse.Namespace(**{**vars(args), "corpus": args.chain_corpus, "vocabulary": args.chain_vocabulary,
                                  "documents": args.chain_documents, "max_document_tokens": 64})
    prompts, ids, tokens = bbc_prompts(short, tokenizer)
    projection = project_vocabulary(tokenizer, Path(args.chain_vocabulary).read_text().split())
    plan = plan_chain(projection.pieces)
    print(f"chain projection: {len(prompts)} prompts, {tokens / len(prompts):.1f} tokens each, |V| = {len(ids)}, "
          f"{projection.shared_words} words share a first sub-token; plan {plan.summary()}; budget {budget}")
    time_projections(model, tokenizer, prompts, ids, plan, [8], args.rounds, batch_size=args.batch_size,
                     token_budget=budget)


if __name__ == "__main__":
    main()
