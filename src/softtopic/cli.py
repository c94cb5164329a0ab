"""The `softtopic` command line.

    softtopic transform RUN new.jsonl -o theta.parquet     theta of new documents under a trained run

RUN is the folder of a run's output.npz (results/<corpus>/models/<run>). The documents are read as the
corpus reader reads a raw corpus (TSV, CSV, JSONL or Parquet; softtopic.corpus), text from --text-column.
The output (Parquet, or CSV for a .csv name) has one row per input row: source_row (its line or row
number), then topic_0 .. topic_<K-1>; NaN for a document a BoW-supervised model cannot read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def read_texts(path: str, text_column: str, fmt: str, quoting: str, encoding: str):
    """(texts, source rows) of a table, read by the corpus reader; malformed rows are reported and skipped."""
    from softtopic.corpus import CorpusError, read_table

    frame, report = read_table(path, fmt, quoting, encoding)
    for problem in report.malformed:
        print(f"softtopic: malformed row skipped: {problem}", file=sys.stderr)
    if text_column not in frame.columns:
        available = [c for c in frame.columns if c != "source_row"]
        raise CorpusError(f"column '{text_column}' is not in {path}; columns there: {available} (--text-column)")
    return frame[text_column].astype("string").fillna("").tolist(), frame["source_row"].tolist()


def write_theta(theta, source_rows, path: str) -> None:
    import pandas as pd

    table = pd.DataFrame(theta, columns=[f"topic_{k}" for k in range(theta.shape[1])])
    table.insert(0, "source_row", source_rows)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if path.endswith(".csv"):
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)


def transform(args) -> None:
    from softtopic.trained import load_run

    run = load_run(args.run, lm_manifest=args.lm, cache_dir=args.cache, device=args.device)
    texts, rows = read_texts(args.documents, args.text_column, args.format, args.quoting, args.encoding)
    theta = run.transform(texts, progress=not args.quiet)
    write_theta(theta, rows, args.output)
    print(f"softtopic: theta of {len(texts)} documents ({run.num_topics} topics) -> {args.output}", file=sys.stderr)


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="softtopic", description="Use trained softtopic runs.")
    commands = main_parser.add_subparsers(dest="command", required=True)
    apply = commands.add_parser("transform", help="theta of new documents under a trained run")
    apply.add_argument("run", help="the run's folder (where output.npz and model.json are)")
    apply.add_argument("documents", help="a TSV, CSV, JSONL or Parquet table of documents")
    apply.add_argument("-o", "--output", required=True, help="theta table to write (.parquet, or .csv)")
    apply.add_argument("--text-column", default="text", help="column holding the text (default: text)")
    apply.add_argument("--format", default="auto", choices=["auto", "tsv", "csv", "jsonl", "parquet"])
    apply.add_argument("--quoting", default="auto", choices=["auto", "none", "csv"])
    apply.add_argument("--encoding", default="utf-8")
    apply.add_argument("--lm", help="the LM's lm.json (default: resources/lm/<lm>/lm.json above the run)")
    apply.add_argument("--cache", help="where the LM pass keeps its shards (default: $SOFTTOPIC_CACHE or "
                                       "~/.cache/softtopic)")
    apply.add_argument("--device", help="where the LM runs (default: CUDA when present)")
    apply.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    apply.set_defaults(handler=transform)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    from softtopic.corpus import CorpusError
    from softtopic.savedmodel import SavedModelError

    args = parser().parse_args(argv)
    try:
        args.handler(args)
    except (SavedModelError, CorpusError, FileNotFoundError) as error:
        print(f"softtopic: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
