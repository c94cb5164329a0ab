"""Raw corpora in, one prepared document table out.

A raw corpus is a table (TSV, CSV, JSONL or Parquet) with a text column and an optional label column.
`prepare_corpus` turns it into the table every later stage reads: ``doc_id, text, label, source_row``.
Nothing is dropped silently: malformed rows (named by file and line), empty texts and duplicates are
counted in a report that is written next to the output.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

FORMATS = ("tsv", "csv", "jsonl", "parquet")


class CorpusError(ValueError):
    """A corpus that cannot be read as configured (bad path, format or column)."""


@dataclass
class ReadReport:
    """What happened to each raw row on the way into the prepared table."""

    path: str
    rows_read: int = 0
    malformed: list[str] = field(default_factory=list)
    empty_text: int = 0
    missing_label: int = 0
    duplicate_texts: int = 0
    dropped_duplicates: int = 0
    kept: int = 0
    sampled_to: int | None = None

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "rows_read": self.rows_read,
            "malformed_rows": len(self.malformed),
            "malformed": self.malformed,
            "empty_texts_dropped": self.empty_text,
            "missing_labels": self.missing_label,
            "duplicate_texts": self.duplicate_texts,
            "duplicates_dropped": self.dropped_duplicates,
            "documents_kept": self.kept,
            "sampled_to": self.sampled_to,
        }


def detect_format(path: str | Path, declared: str = "auto") -> str:
    """The table format of `path`: the declared one, or the one its suffix names."""
    if declared != "auto":
        return declared
    suffix = Path(path).suffix.lower().lstrip(".")
    aliases = {"tab": "tsv", "txt": "tsv", "json": "jsonl", "ndjson": "jsonl", "pq": "parquet"}
    fmt = aliases.get(suffix, suffix)
    if fmt not in FORMATS:
        raise CorpusError(
            f"cannot tell the format of {path}: suffix '.{suffix}' is none of {FORMATS}; "
            "set `format:` for this corpus in the config"
        )
    return fmt


def _read_delimited(path: Path, delimiter: str, report: ReadReport) -> pd.DataFrame:
    """Read a TSV/CSV row by row so that a row with the wrong field count is named, not lost."""
    rows: list[list[str]] = []
    source_rows: list[int] = []
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise CorpusError(f"{path} is empty: expected a header row") from None
        for record in reader:
            report.rows_read += 1
            if len(record) != len(header):
                report.malformed.append(
                    f"{path}:{reader.line_num}: {len(record)} fields, header has {len(header)}"
                )
                continue
            rows.append(record)
            source_rows.append(reader.line_num)
    frame = pd.DataFrame(rows, columns=header)
    frame["source_row"] = source_rows
    return frame


def _read_jsonl(path: Path, report: ReadReport) -> pd.DataFrame:
    records = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            report.rows_read += 1
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except ValueError as error:
                report.malformed.append(f"{path}:{line_number}: {error}")
                continue
            record["source_row"] = line_number
            records.append(record)
    return pd.DataFrame.from_records(records)


def read_table(path: str | Path, fmt: str = "auto") -> tuple[pd.DataFrame, ReadReport]:
    """Read a raw corpus table; every parseable row, with its `source_row` (line or row number)."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"corpus file {path} does not exist")
    report = ReadReport(path=str(path))
    fmt = detect_format(path, fmt)
    if fmt in ("tsv", "csv"):
        frame = _read_delimited(path, "\t" if fmt == "tsv" else ",", report)
    elif fmt == "jsonl":
        frame = _read_jsonl(path, report)
    else:
        frame = pd.read_parquet(path)
        report.rows_read = len(frame)
        frame["source_row"] = range(len(frame))
    return frame, report


def table_columns(path: str | Path, fmt: str = "auto") -> list[str]:
    """The column names of a raw table, read cheaply (header line or first record)."""
    path = Path(path)
    fmt = detect_format(path, fmt)
    if fmt in ("tsv", "csv"):
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            return next(csv.reader(handle, delimiter="\t" if fmt == "tsv" else ","), [])
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return list(json.loads(line))
        return []
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def prepare_corpus(
    frame: pd.DataFrame,
    report: ReadReport,
    text_column: str,
    label_column: str | None,
    drop_duplicates: bool = False,
) -> pd.DataFrame:
    """The prepared table ``doc_id, text, label, source_row`` from a raw frame.

    Empty texts are dropped; duplicate texts are counted and kept unless `drop_duplicates`.
    """
    for column in (text_column, label_column):
        if column is not None and column not in frame.columns:
            available = [c for c in frame.columns if c != "source_row"]
            raise CorpusError(f"column '{column}' is not in {report.path}; columns there: {available}")
    text = frame[text_column].astype("string").fillna("").str.strip()
    empty = text.str.len() == 0
    report.empty_text = int(empty.sum())
    prepared = pd.DataFrame({"text": text, "source_row": frame["source_row"]})
    if label_column is not None:
        label = frame[label_column].astype("string").str.strip()
        report.missing_label = int((label.isna() | (label == "")).sum())
        prepared["label"] = label
    else:
        prepared["label"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    prepared = prepared[~empty]
    duplicated = prepared["text"].duplicated(keep="first")
    report.duplicate_texts = int(duplicated.sum())
    if drop_duplicates:
        prepared = prepared[~duplicated]
        report.dropped_duplicates = report.duplicate_texts
    prepared = prepared.reset_index(drop=True)
    prepared.insert(0, "doc_id", range(len(prepared)))
    report.kept = len(prepared)
    return prepared[["doc_id", "text", "label", "source_row"]]


def subsample(documents: pd.DataFrame, size: int | None, seed: int = 0) -> pd.DataFrame:
    """A deterministic random sample of `size` documents, in their original order, renumbered.

    For trying a configuration quickly; None keeps everything.
    """
    if size is None or size >= len(documents):
        return documents
    sample = documents.sample(n=size, random_state=seed).sort_index().reset_index(drop=True)
    return sample.assign(doc_id=range(len(sample)))


def write_report(report: ReadReport, path: str | Path) -> None:
    Path(path).write_text(json.dumps(report.as_dict(), indent=2) + "\n")
