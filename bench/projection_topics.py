"""Report: the two projections' topics side by side, from a finished run of config/projection-stackoverflow.yaml.

For each LM (one per projection) and each DSL run of it: the share of topics whose top words hold a prefix
group (at least two words sharing their first LM sub-token among the topic's top `--top` words), and the
run's NPMI, C_V and purity from reports/<corpus>/metrics.csv; prints a Markdown table of the means over
seeds (± the standard deviation) and, per LM, a few prefix groups seen in topics.

    .venv/bin/python bench/projection_topics.py --corpus stackoverflow --lms smollm2 smollm2-chain
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from softtopic.output import ModelOutput
from softtopic.prompting import project_vocabulary


def prefix_groups(words: list[str], first_token: dict[str, int]) -> list[list[str]]:
    """The groups of two or more `words` that share a first sub-token."""
    by_token: dict[int, list[str]] = {}
    for word in words:
        by_token.setdefault(first_token[word], []).append(word)
    return [group for group in by_token.values() if len(group) > 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="stackoverflow")
    parser.add_argument("--lms", nargs="+", required=True)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--model", default="dsl")
    args = parser.parse_args()

    from transformers import AutoTokenizer

    metrics = pd.read_csv(f"reports/{args.corpus}/metrics.csv")
    rows, seen = [], {}
    for lm in args.lms:
        manifest = json.loads(Path(f"resources/lm/{lm}/lm.json").read_text())
        tokenizer = AutoTokenizer.from_pretrained(Path(f"resources/lm/{lm}") / manifest["load_path"])
        meta = json.loads(Path(f"results/{args.corpus}/lm/{lm}/default/meta.json").read_text())
        runs = sorted(Path(f"results/{args.corpus}/models/{args.model}/{lm}").glob("**/output.npz"))
        if not runs:
            raise SystemExit(f"no {args.model} runs of LM '{lm}' under results/{args.corpus}/models/: run the workflow")
        for path in runs:
            output = ModelOutput.load(path)
            vocabulary = output.vocabulary
            first = dict(zip(vocabulary, project_vocabulary(tokenizer, vocabulary).token_ids))
            topics = output.top_words(args.top)
            groups = [prefix_groups(words, first) for words in topics]
            seen.setdefault(lm, Counter()).update(" / ".join(g) for gs in groups for g in gs)
            keys = {key: output.config[key] for key in ("model", "lm", "prompt", "num_topics", "tau", "seed")}
            row = metrics[np.logical_and.reduce([metrics[key] == value for key, value in keys.items()])]
            if len(row) != 1:
                raise SystemExit(f"{len(row)} rows of reports/{args.corpus}/metrics.csv match {path}: rerun the workflow")
            rows.append({
                **row.iloc[0].to_dict(), "projection": meta["projection"].get("method", "first_token"),
                "prefix_group_share": float(np.mean([bool(g) for g in groups])),
            })
    table = pd.DataFrame(rows)
    columns = [c for c in ("prefix_group_share", "c_npmi", "c_v", "purity") if c in table]
    summary = table.groupby(["lm", "projection"])[columns].agg(["mean", "std"])
    print(f"{args.corpus}, {args.model}, top {args.top} words, {table.groupby('lm').size().iloc[0]} runs per LM")
    print("| LM | projection | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for (lm, projection), values in summary.iterrows():
        cells = [f"{values[(c, 'mean')]:.3f} ± {values[(c, 'std')]:.3f}" for c in columns]
        print(f"| {lm} | {projection} | " + " | ".join(cells) + " |")
    for lm, counter in seen.items():
        print(f"{lm}: prefix groups in topics: {counter.most_common(8)}")


if __name__ == "__main__":
    main()
