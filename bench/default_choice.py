"""The table behind the default teacher and window: DSL per LM (teacher x document window) against ProdLDA.

Reads what `snakemake --configfile config/default-choice.yaml ...` wrote: each run's metric row
(results/<corpus>/metrics/**.json) and each LM pass's meta.json (prompt tokens, seconds, dtype). Prints
one markdown table per corpus: mean ± sd over K x seeds of purity, NMI, C_V, NPMI, TD and P@10, and the
LM pass's seconds and tokens/s; ProdLDA (no LM) closes each table.

    .venv/bin/python bench/default_choice.py --corpora bbc stackoverflow tweettopic
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

METRICS = {"purity": "purity", "nmi": "NMI", "c_v": "C_V", "c_npmi": "NPMI", "td": "TD", "p@10": "P@10"}


def metric_rows(corpus: str, tau: float) -> pd.DataFrame:
    rows = [json.loads(path.read_text()) for path in sorted(Path("results", corpus, "metrics").rglob("*.json"))]
    frame = pd.DataFrame(rows)
    return frame[frame["tau"].isna() | (frame["tau"] == tau)] if "tau" in frame else frame


def lm_pass(corpus: str, lm: str) -> list[str]:
    """Window, dtype, prompt tokens, seconds and tokens/s of one LM pass, from its meta.json."""
    meta = json.loads(Path("results", corpus, "lm", lm, "default", "meta.json").read_text())
    run = meta["extraction"]
    return [str(meta["max_document_tokens"]), meta["dtype"], f"{run['prompt_tokens']:,}",
            f"{run['seconds_computing']:.0f} s", f"{run['tokens_per_second']:,.0f}"]


def table(corpus: str, lms: list[str], tau: float) -> str:
    runs = metric_rows(corpus, tau)
    header = [corpus, "LM", "window", "dtype", "prompt tokens", "LM pass", "tokens/s", "n", *METRICS.values()]
    rows = [header, ["---"] * len(header)]
    for model, lm in [("dsl", lm) for lm in lms] + [("prodlda", None)]:
        group = runs[(runs["model"] == model) & ((runs["lm"] == lm) if lm else runs["lm"].isna())]
        if not group.empty:
            cells = [f"{group[m].mean():.3f} ± {group[m].std(ddof=1):.3f}" for m in METRICS]
            rows.append(["DSL" if lm else "ProdLDA", lm or "–", *(lm_pass(corpus, lm) if lm else [""] * 5),
                         str(len(group)), *cells])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", nargs="+", default=["bbc", "stackoverflow", "tweettopic"])
    parser.add_argument("--lms", nargs="+", default=["smollm2", "smollm2-w128", "smollm2-w256", "gemma270m",
                                                     "gemma270m-w128", "gemma270m-w256"])
    parser.add_argument("--tau", type=float, default=3.0)
    args = parser.parse_args()
    for corpus in args.corpora:
        lms = [lm for lm in args.lms if Path("results", corpus, "lm", lm, "default", "meta.json").exists()]
        print(table(corpus, lms, args.tau))


if __name__ == "__main__":
    main()
