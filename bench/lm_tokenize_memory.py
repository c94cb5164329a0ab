"""Benchmark: peak memory of tokenising every prompt of a corpus for the LM stage's batch plan, in one
tokenizer call (the code before issue 17's fix) against `softtopic.lm.encode_prompts` (a block at a time).

Each LM job plans the whole corpus's batches (`partition_documents`), so it tokenises every prompt. Each
mode runs in a fresh process; the figure is that process's peak RSS (ru_maxrss) minus its RSS after
loading the tokenizer and the prompts. The tokenizer of bench/scale.py's LM (SmolLM2's, saved in
<workdir>/lm-tiny), prompts made from its planted corpus (or any TSV with a `text` column):

    .venv/bin/python bench/lm_tokenize_memory.py --documents 1000000 --tokenizer .scale/lm-tiny \
        --corpus .scale/n1000000/data/raw/scale.tsv
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(mode: str, corpus: str, documents: int, tokenizer_dir: str) -> dict:
    import pandas as pd

    from softtopic.lm import encode_prompts
    from softtopic.prompting import PromptTemplate
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    texts = pd.read_csv(corpus, sep="\t", usecols=["text"], nrows=documents)["text"].astype(str).tolist()
    template = PromptTemplate()
    prompts = [template.render(text) for text in texts]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if mode == "one-call":
        lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=True)["input_ids"]]
    else:
        lengths = [len(ids) for ids in encode_prompts(tokenizer, prompts)]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"mode": mode, "documents": len(prompts), "tokens": int(sum(lengths)), "seconds": round(seconds, 1),
            "peak_rss_mib": round(peak / 1024), "peak_over_loaded_mib": round((peak - base) / 1024)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--corpus", required=True, help="a TSV with a `text` column")
    parser.add_argument("--tokenizer", required=True, help="a folder AutoTokenizer loads (bench/scale.py's <workdir>/lm-tiny)")
    parser.add_argument("--mode", choices=["one-call", "blocks"], help="(internal) measure one mode here")
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(measure(args.mode, args.corpus, args.documents, args.tokenizer)))
        return
    for mode in ("blocks", "one-call"):
        out = subprocess.run([sys.executable, __file__, "--mode", mode, "--documents", str(args.documents),
                              "--corpus", args.corpus, "--tokenizer", args.tokenizer], capture_output=True, text=True, check=True).stdout
        print(out.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
