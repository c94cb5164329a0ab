"""Raw corpora in, one prepared document table out.

A raw corpus is a table (TSV, CSV, JSONL or Parquet) with a text column and an optional label column.
`prepare_corpus` turns it into the table every later stage reads: ``doc_id, text, label, source_row``.
Nothing is dropped silently: malformed rows (named by file and line), empty texts and duplicates are
counted in a report that is written next to the output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

FORMATS = ("tsv", "csv", "jsonl", "parquet")


class CorpusError(ValueError):
    """A corpus that cannot be read as configured (bad path, format, column, encoding or size)."""


QUOTINGS = ("auto", "none", "csv")


@dataclass
class ReadReport:
    """What happened to each raw row on the way into the prepared table."""

    path: str
    encoding: str = "utf-8"
    quoting: str | None = None
    rows_read: int = 0
    malformed: list[str] = field(default_factory=list)
    malformed_lines: list[int] = field(default_factory=list)
    multiline: list[int] = field(default_factory=list)
    quoted_looking: int = 0
    empty_text: int = 0
    missing_label: int = 0
    duplicate_texts: int = 0
    dropped_duplicates: int = 0
    kept: int = 0
    sampled_to: int | None = None

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "encoding": self.encoding,
            "quoting": self.quoting,
            "rows_read": self.rows_read,
            "malformed_rows": len(self.malformed),
            "malformed": self.malformed,
            "rows_spanning_lines": self.multiline,
            "rows_starting_with_a_quote": self.quoted_looking,
            "undecodable_bytes": 0,  # any stops the job with CorpusError (file, line, byte)
            "empty_texts_dropped": self.empty_text,
            "missing_labels": self.missing_label,
            "duplicate_texts": self.duplicate_texts,
            "duplicates_dropped": self.dropped_duplicates,
            "documents_kept": self.kept,
            "sampled_to": self.sampled_to,
        }

    def skip(self, path: Path, line: int, problem: str) -> None:
        """Record a row that is not kept, by the line where it starts."""
        self.malformed.append(f"{path}:{line}: {problem}")
        self.malformed_lines.append(line)

    def summary(self, name: str) -> str:
        """One console line: what was read, kept and dropped, and where the details are."""
        malformed = f"{len(self.malformed)} malformed{_lines(self.malformed_lines)}"
        spanning = f", {len(self.multiline)} spanning several lines{_lines(self.multiline)}" if self.multiline else ""
        kept = self.kept if self.sampled_to is None else f"{self.kept} (sampled to {self.sampled_to})"
        return (
            f"corpus {name}: {self.rows_read} rows read, {kept} kept; {malformed}{spanning}, "
            f"{self.empty_text} empty, {self.duplicate_texts} duplicate texts, {self.missing_label} without label, "
            f"0 undecodable ({self.encoding})"
        )


def _lines(numbers: list[int], shown: int = 5) -> str:
    """' (line 7)', ' (lines 7, 13, ...)' or ''."""
    if not numbers:
        return ""
    listed = ", ".join(map(str, numbers[:shown])) + (", ..." if len(numbers) > shown else "")
    return f" (line{'s' if len(numbers) > 1 else ''} {listed})"


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


def resolve_quoting(fmt: str, quoting: str = "auto") -> str:
    """'none' (every line one row, split on the delimiter) or 'csv' (RFC 4180 quotes); 'auto' takes
    'none' for TSV and 'csv' for CSV."""
    if quoting not in QUOTINGS:
        raise CorpusError(f"quoting '{quoting}' is none of {QUOTINGS}")
    return ("csv" if fmt == "csv" else "none") if quoting == "auto" else quoting


def decode_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    """The lines of a text file, decoded strictly. Lines end at '\n' or '\r\n' only: a bare '\r'
    stays inside its line. Bytes that are not `encoding` raise CorpusError naming file, line and byte."""
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise CorpusError(
            f"{path}:{line}: byte 0x{raw[error.start]:02x} at column {column} is not valid {encoding} "
            f"({error.reason}); set `encoding:` for this corpus (e.g. latin-1, cp1252) or convert the file "
            "to UTF-8. Nothing is replaced silently"
        ) from None
    except LookupError:
        raise CorpusError(f"{path}: unknown encoding '{encoding}' (see Python's codecs list)") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def split_quoted(text: str, delimiter: str) -> list[str]:
    """Fields of one CSV record (RFC 4180: a field starting with '"' is quoted, '""' is a quote).
    Raises ValueError on a quote that is not closed or is followed by something else than a delimiter."""
    fields, position = [], 0
    while True:
        if text.startswith('"', position):
            parts, position = [], position + 1
            while True:
                close = text.find('"', position)
                if close < 0:
                    raise ValueError("a quoted field is never closed")
                parts.append(text[position:close])
                if text.startswith('"', close + 1):
                    parts.append('"')
                    position = close + 2
                    continue
                position = close + 1
                break
            fields.append("".join(parts))
            if position < len(text) and text[position] != delimiter:
                raise ValueError(f"text after the closing quote of field {len(fields)}")
        else:
            end = text.find(delimiter, position)
            fields.append(text[position:] if end < 0 else text[position:end])
            position = len(text) if end < 0 else end
        if position >= len(text):
            return fields
        position += 1  # past the delimiter
        if position == len(text):
            fields.append("")
            return fields


def _records(lines: list[str], delimiter: str, quoting: str):
    """(first line number, fields or the ValueError, lines covered) per record. With quoting 'none' a
    record is a line; with 'csv' a line break inside quotes continues the record (counted in the report)."""
    number = 0
    while number < len(lines):
        start, text = number + 1, lines[number]
        number += 1
        if quoting == "none":
            yield start, text.split(delimiter), 1
            continue
        while text.count('"') % 2 and number < len(lines):
            text += "\n" + lines[number]
            number += 1
        try:
            yield start, split_quoted(text, delimiter), number - start + 1
        except ValueError as error:
            yield start, error, number - start + 1


def _read_delimited(path: Path, delimiter: str, quoting: str, encoding: str, report: ReadReport) -> pd.DataFrame:
    """Read a TSV/CSV record by record so that a row with the wrong field count is named, not lost."""
    records = _records(decode_lines(path, encoding), delimiter, quoting)
    try:
        _, header, _ = next(records)
    except StopIteration:
        raise CorpusError(f"{path} is empty: expected a header row") from None
    if isinstance(header, ValueError):
        raise CorpusError(f"{path}:1: the header row cannot be read ({header})")
    rows: list[list[str]] = []
    source_rows: list[int] = []
    for line, record, span in records:
        if isinstance(record, list) and record == [""]:
            continue  # a blank line
        report.rows_read += 1
        lines = f" (lines {line}-{line + span - 1})" if span > 1 else ""
        if isinstance(record, ValueError):
            report.skip(path, line, f"{record}{lines or f' (line {line})'}")
            continue
        if len(record) != len(header):
            hint = ""
            if quoting == "none" and record[0].startswith('"'):
                hint = "; it starts with a quote: if the file quotes fields, set `quoting: csv`"
            report.skip(path, line, f"{len(record)} fields, header has {len(header)}{lines}{hint}")
            continue
        if span > 1:
            report.multiline.append(line)
        if quoting == "none" and record[0].startswith('"'):
            report.quoted_looking += 1
        rows.append(record)
        source_rows.append(line)
    frame = pd.DataFrame(rows, columns=header)
    frame["source_row"] = source_rows
    return frame


def _surrogate_free(record, path: Path, line: int) -> None:
    """JSON escapes can encode lone surrogates ('\\udcff'), which no later stage can write."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        raise CorpusError(
            f"{path}:{line}: a JSON string holds a lone surrogate ({error.object[error.start]!r}), "
            "not a character; fix the escape in the file"
        ) from None


def _read_jsonl(path: Path, encoding: str, report: ReadReport) -> pd.DataFrame:
    records = []
    for line_number, line in enumerate(decode_lines(path, encoding), start=1):
        if not line.strip():
            continue
        report.rows_read += 1
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"not a JSON object but {type(record).__name__}")
        except ValueError as error:
            report.skip(path, line_number, str(error))
            continue
        _surrogate_free(record, path, line_number)
        record["source_row"] = line_number
        records.append(record)
    return pd.DataFrame.from_records(records)


def read_table(
    path: str | Path, fmt: str = "auto", quoting: str = "auto", encoding: str = "utf-8"
) -> tuple[pd.DataFrame, ReadReport]:
    """Read a raw corpus table; every parseable row, with its `source_row` (line or row number)."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"corpus file {path} does not exist")
    report = ReadReport(path=str(path), encoding=encoding)
    fmt = detect_format(path, fmt)
    if fmt in ("tsv", "csv"):
        report.quoting = resolve_quoting(fmt, quoting)
        frame = _read_delimited(path, "\t" if fmt == "tsv" else ",", report.quoting, encoding, report)
    elif fmt == "jsonl":
        frame = _read_jsonl(path, encoding, report)
    else:
        frame = pd.read_parquet(path)
        report.rows_read = len(frame)
        frame["source_row"] = range(len(frame))
    return frame, report


def scan_table(path: str | Path, fmt: str = "auto", quoting: str = "auto", encoding: str = "utf-8"):
    """(column names, an upper bound on the documents) of a raw table, read cheaply before any job.

    Text files are decoded in full, so that a byte that is not `encoding` (or a lone surrogate in a
    JSONL escape) is named at config validation rather than in a job."""
    path = Path(path)
    fmt = detect_format(path, fmt)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        metadata = pq.read_metadata(path)
        return list(metadata.schema.to_arrow_schema().names), metadata.num_rows
    lines = decode_lines(path, encoding)
    nonblank = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if fmt == "jsonl":
        columns: list[str] = []
        for number, line in nonblank:
            if "\\u" in line:  # only an escape can hold a lone surrogate
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a malformed line is named in the report when the corpus is read
                _surrogate_free(record, path, number)
        for _, line in nonblank[:1]:
            try:
                columns = list(json.loads(line))
            except (ValueError, TypeError):
                columns = []
        return columns, len(nonblank)
    if not lines:
        return [], 0
    delimiter = "\t" if fmt == "tsv" else ","
    _, header, _ = next(_records(lines[:1], delimiter, resolve_quoting(fmt, quoting)))
    if isinstance(header, ValueError):
        raise CorpusError(f"{path}:1: the header row cannot be read ({header})")
    return header, len(nonblank) - 1


def table_columns(path: str | Path, fmt: str = "auto", quoting: str = "auto", encoding: str = "utf-8") -> list[str]:
    """The column names of a raw table."""
    return scan_table(path, fmt, quoting, encoding)[0]


def check_size(documents: int, num_topics: int, corpus: str, what: str = "documents") -> None:
    """A topic model needs at least K documents (and two, for batch normalisation)."""
    needed = max(num_topics, 2)
    if documents < needed:
        raise CorpusError(
            f"corpus '{corpus}' has {documents} {what}, too few for K = {num_topics} topics "
            f"(at least {needed} are needed{'; batch normalisation needs two' if documents < 2 else ''}). "
            "Use a larger corpus or a smaller `run.num_topics`"
        )


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
