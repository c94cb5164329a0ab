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

import numpy as np
import pandas as pd

from softtopic.errors import UserError

FORMATS = ("tsv", "csv", "jsonl", "parquet")


class CorpusError(UserError, ValueError):
    """A corpus that cannot be read as configured (bad path, format, column, encoding or size)."""


QUOTINGS = ("auto", "none", "csv")


MISSING = type("Missing", (), {"__repr__": lambda self: "MISSING"})()  # a JSONL record without the key


@dataclass
class ReadReport:
    """What happened to each raw row, and to each physical line, on the way into the prepared table.

    Every line of a TSV/CSV/JSONL file ends up in exactly one place: the header, a kept document, a
    malformed row (named with its lines and reason), a dropped row (empty text, duplicate, sampled out)
    or a blank line; `line_account` counts them and the counts add up to the file's lines."""

    path: str
    encoding: str = "utf-8"
    quoting: str | None = None
    rows_read: int = 0
    malformed: list[str] = field(default_factory=list)
    malformed_lines: list[int] = field(default_factory=list)
    malformed_spans: list[tuple[int, int, str]] = field(default_factory=list)  # (first line, last line, reason)
    multiline: list[int] = field(default_factory=list)
    quoted_looking: int = 0
    empty_text: int = 0
    missing_label: int = 0
    non_string_labels: int = 0
    duplicate_texts: int = 0
    dropped_duplicates: int = 0
    kept: int = 0
    sampled_to: int | None = None
    lines: int | None = None  # physical lines of a text file (None: Parquet, rows have no lines)
    header_lines: int = 0
    blank_lines: list[int] = field(default_factory=list)
    spans: dict[int, int] = field(default_factory=dict)  # first line -> lines, of every row read whole
    empty_rows: list[int] = field(default_factory=list)  # first lines of rows dropped for an empty text
    duplicate_rows: list[int] = field(default_factory=list)  # first lines of dropped duplicates
    sampled_out: list[int] = field(default_factory=list)  # first lines of rows left out by `sample`
    kept_rows: list[int] = field(default_factory=list)  # first lines of the documents kept

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
            "labels_not_strings": self.non_string_labels,
            "duplicate_texts": self.duplicate_texts,
            "duplicates_dropped": self.dropped_duplicates,
            "documents_kept": self.kept,
            "sampled_to": self.sampled_to,
            "lines": None if self.lines is None else {
                "total": self.lines,
                **{name: {"count": len(numbers), "lines": ranges(numbers)}
                   for name, numbers in self.line_account().items()},
            },
        }

    def skip(self, path: Path, line: int, problem: str, last: int | None = None) -> None:
        """Record a row that is not kept, by the line where it starts (and the last line it covers)."""
        last = line if last is None else last
        self.malformed.append(f"{path}:{line}: {problem}" + (f" (lines {line}-{last})" if last > line else ""))
        self.malformed_lines.append(line)
        self.malformed_spans.append((line, last, problem))

    def sort_malformed(self) -> None:
        """Malformed rows in file order (those found reading and those found checking values)."""
        order = sorted(range(len(self.malformed)), key=lambda i: self.malformed_spans[i][0])
        self.malformed = [self.malformed[i] for i in order]
        self.malformed_lines = [self.malformed_lines[i] for i in order]
        self.malformed_spans = [self.malformed_spans[i] for i in order]

    def _expand(self, starts) -> list[int]:
        return [n for start in starts for n in range(start, start + self.spans.get(start, 1))]

    def line_account(self) -> dict[str, list[int]]:
        """The lines of a text file by what became of them; together they are lines 1..`lines`, once each."""
        return {
            "header": list(range(1, self.header_lines + 1)),
            "kept": self._expand(self.kept_rows),
            "malformed": [n for first, last, _ in self.malformed_spans for n in range(first, last + 1)],
            "empty_text": self._expand(self.empty_rows),
            "duplicates_dropped": self._expand(self.duplicate_rows),
            "sampled_out": self._expand(self.sampled_out),
            "blank": list(self.blank_lines),
        }

    def record_sample(self, before: pd.DataFrame, after: pd.DataFrame) -> None:
        """Note which documents `subsample` left out (by their first lines)."""
        kept = set(after["source_row"])
        self.sampled_out = [row for row in before["source_row"] if row not in kept]
        self.kept_rows = list(after["source_row"])
        self.sampled_to = len(after)

    def summary(self, name: str) -> str:
        """One console line: what was read, kept and dropped, where each line went (the counts add up to
        the file's lines), the first malformed rows with their lines and reasons."""
        malformed = f"{len(self.malformed)} malformed{_spans(self.malformed_spans)}"
        spanning = f", {len(self.multiline)} spanning several lines{self._kept_spans()}" if self.multiline else ""
        kept = self.kept if self.sampled_to is None else f"{self.kept} (sampled to {self.sampled_to})"
        labels = f", {self.non_string_labels} labels not strings (read as text)" if self.non_string_labels else ""
        text = (
            f"corpus {name}: {self.rows_read} rows read, {kept} kept; {malformed}{spanning}, "
            f"{self.empty_text} empty, {self.duplicate_texts} duplicate texts, {self.missing_label} without label"
            f"{labels}, 0 undecodable ({self.encoding})"
        )
        if self.lines is not None:
            counts = {name: len(numbers) for name, numbers in self.line_account().items()}
            terms = [f"{count} {name.replace('_', ' ')}" for name, count in counts.items()
                     if count or name in ("kept", "malformed")]
            text += f"; {self.lines} lines = " + " + ".join(terms)
        for first, last, reason in self.malformed_spans[:3]:
            where = f"line {first}" if first == last else f"lines {first}-{last}"
            text += f"; {where}: {reason}"
        if len(self.malformed_spans) > 3:
            text += f"; {len(self.malformed_spans) - 3} more malformed rows in the report"
        return text

    def _kept_spans(self) -> str:
        return _spans([(row, row + self.spans.get(row, 1) - 1, "") for row in self.multiline])


def ranges(numbers) -> str:
    """'2-5, 9, 12-13' for [2, 3, 4, 5, 9, 12, 13] (sorted, duplicates ignored)."""
    parts, numbers = [], sorted(set(numbers))
    for number in numbers:
        if parts and number == parts[-1][1] + 1:
            parts[-1][1] = number
        else:
            parts.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def _spans(spans, shown: int = 5) -> str:
    """' (line 7)', ' (lines 7-21, 30, ...)' or '' for (first, last, ...) line spans."""
    if not spans:
        return ""
    listed = [str(first) if first == last else f"{first}-{last}" for first, last, *_ in spans[:shown]]
    several = len(spans) > 1 or spans[0][0] != spans[0][1]
    return f" (line{'s' if several else ''} {', '.join(listed)}{', ...' if len(spans) > shown else ''})"


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


class _Record:
    """One CSV record being parsed: its fields and the first problem met (with where it is)."""

    def __init__(self):
        self.fields: list[str] = []
        self.problem: str | None = None

    def fail(self, problem: str) -> None:
        self.problem = self.problem or problem


def _quoted_field(lines: list[str], index: int, position: int, delimiter: str, record: _Record):
    """The quoted field opening at lines[index][position]: (value, line index, position after it). A line
    break inside the quotes continues it on the next line; a field never closed runs to the end of the file."""
    opened, column = index + 1, position + 1
    number, text, position, parts = len(record.fields) + 1, lines[index], position + 1, []
    while True:
        close = text.find('"', position)
        if close < 0:
            parts.append(text[position:])
            if index + 1 == len(lines):
                record.fail(f"the quote opening field {number} on line {opened} (column {column}) is never closed")
                return "".join(parts), index, len(text)
            index, text, position = index + 1, lines[index + 1], 0
            parts.append("\n")
            continue
        parts.append(text[position:close])
        if text.startswith('"', close + 1):  # '""' is a quote inside the field
            parts.append('"')
            position = close + 2
            continue
        position = close + 1
        break
    if position < len(text) and text[position] != delimiter:
        where = f"on line {index + 1}" if index + 1 != opened else "on the same line"
        record.fail(
            f"the quote opening field {number} on line {opened} (column {column}) closes {where} (column {close + 1}) "
            f"and {text[position]!r} follows it where {delimiter!r} or the end of the row must"
            + (" (a quote inside a quoted field is written twice: \"\")" if index + 1 == opened else "")
        )
        end = text.find(delimiter, position)  # read on as unquoted text to the field's end
        end = len(text) if end < 0 else end
        parts.append(text[position:end])
        position = end
    return "".join(parts), index, position


def _csv_record(lines: list[str], index: int, delimiter: str) -> tuple[_Record, int]:
    """The CSV record starting at lines[index] (RFC 4180: a field starting with '"' is quoted, '""' is a
    quote inside it, a line break inside quotes continues the record; a quote elsewhere is text, as
    Python's csv module reads it). Returns the record and the index of its last line."""
    record, text, position = _Record(), lines[index], 0
    while True:
        if text.startswith('"', position):
            value, index, position = _quoted_field(lines, index, position, delimiter, record)
            text = lines[index]
        else:
            end = text.find(delimiter, position)
            end = len(text) if end < 0 else end
            value, position = text[position:end], end
        record.fields.append(value)
        if position >= len(text):
            return record, index
        position += 1  # past the delimiter
        if position == len(text):
            record.fields.append("")
            return record, index


def _records(lines: list[str], delimiter: str, quoting: str):
    """(first line number, fields or a problem string, lines covered) per record. With quoting 'none' a
    record is a line; with 'csv' a line break inside quotes continues the record (counted in the report).
    A blank line (whitespace only) where a record would start yields (line, None, 1)."""
    index = 0
    while index < len(lines):
        start = index + 1
        if not lines[index].strip():
            yield start, None, 1
            index += 1
            continue
        if quoting == "none":
            yield start, lines[index].split(delimiter), 1
            index += 1
            continue
        record, last = _csv_record(lines, index, delimiter)
        yield start, record.problem or record.fields, last - index + 1
        index = last + 1


def _read_delimited(path: Path, delimiter: str, quoting: str, encoding: str, report: ReadReport) -> pd.DataFrame:
    """Read a TSV/CSV record by record so that a row with the wrong field count is named, not lost."""
    lines = decode_lines(path, encoding)
    report.lines = len(lines)
    records = _records(lines, delimiter, quoting)
    try:
        _, header, report.header_lines = next(records)
    except StopIteration:
        raise CorpusError(f"{path} is empty: expected a header row") from None
    if not isinstance(header, list):
        raise CorpusError(f"{path}:1: the header row cannot be read ({header or 'it is blank'})")
    rows: list[list[str]] = []
    source_rows: list[int] = []
    for line, record, span in records:
        if record is None:
            report.blank_lines.append(line)
            continue
        report.rows_read += 1
        last = line + span - 1
        if isinstance(record, str):
            report.skip(path, line, record, last)
            continue
        if len(record) != len(header):
            hint = ""
            if quoting == "none" and record[0].startswith('"'):
                hint = "; it starts with a quote: if the file quotes fields, set `quoting: csv`"
            report.skip(path, line, f"{len(record)} fields, header has {len(header)}{hint}", last)
            continue
        if span > 1:
            report.multiline.append(line)
        if quoting == "none" and record[0].startswith('"'):
            report.quoted_looking += 1
        report.spans[line] = span
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


JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
              float: "a number", type(None): "null"}


def _json_record(line: str):
    """The JSON object on one line, or the reason it is none."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return f"not valid JSON: {error.msg} at column {error.colno}"
    except RecursionError:
        return "not readable JSON: nested too deeply"
    except ValueError as error:  # e.g. an integer longer than Python converts
        return f"not readable JSON: {error}"
    if not isinstance(record, dict):
        return f"not a JSON object but {JSON_TYPES.get(type(record), type(record).__name__)}"
    return record


def _read_jsonl(path: Path, encoding: str, report: ReadReport) -> pd.DataFrame:
    """One JSON object per line; the columns are the keys of all records (a record without a key holds
    MISSING there), the values as JSON gave them (prepare_corpus checks their types)."""
    lines = decode_lines(path, encoding)
    report.lines = len(lines)
    records, columns = [], {}
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            report.blank_lines.append(line_number)
            continue
        report.rows_read += 1
        record = _json_record(line)
        if isinstance(record, str):
            report.skip(path, line_number, record)
            continue
        _surrogate_free(record, path, line_number)
        record.pop("source_row", None)  # the name of the line-number column
        columns.update(dict.fromkeys(record))
        report.spans[line_number] = 1
        records.append((line_number, record))
    frame = pd.DataFrame(
        {name: pd.Series([record.get(name, MISSING) for _, record in records], dtype=object) for name in columns}
    )
    frame["source_row"] = pd.Series([number for number, _ in records], dtype="int64")
    return frame


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
        columns: dict[str, None] = {}  # the keys of every record, in order of first appearance
        for number, line in nonblank:
            record = _json_record(line)
            if isinstance(record, dict):  # a malformed line is named in the report when the corpus is read
                if "\\u" in line:  # only an escape can hold a lone surrogate
                    _surrogate_free(record, path, number)
                columns.update(dict.fromkeys(record))
        return list(columns), len(nonblank)
    if not lines:
        return [], 0
    delimiter = "\t" if fmt == "tsv" else ","
    _, header, _ = next(_records(lines, delimiter, resolve_quoting(fmt, quoting)))
    if not isinstance(header, list):
        raise CorpusError(f"{path}:1: the header row cannot be read ({header or 'it is blank'})")
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


def _describe(value) -> str:
    """A value's JSON type and a short spelling of it: 'a number (12345)'."""
    kind = JSON_TYPES.get(type(value), type(value).__name__)
    try:
        shown = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:
        shown = repr(value)
    return f"{kind} ({shown[:40]}{'...' if len(shown) > 40 else ''})"


def _absent(value) -> bool:
    """None, NaN or pandas' NA (a null JSON value, an empty Parquet cell)."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def prepared_text(text: str) -> str:
    """A text as the prepared table holds it, what the later stages read: without surrounding whitespace."""
    return text.strip()


def _text_cell(value, column: str):
    """(text, None) for a usable text cell ('' for an empty one), else (None, the reason)."""
    if isinstance(value, str):
        return prepared_text(value), None
    if value is MISSING:
        return None, f"no key '{column}' (the text column)"
    if _absent(value):
        return "", None
    return None, f"the text column '{column}' holds {_describe(value)}, not a string"


def _label_cell(value, column: str):
    """(label or None, whether it was not a string, None) or (None, False, the reason). A category given
    as an integer or a boolean is read as its JSON text ('3', 'true') and counted."""
    if isinstance(value, str):
        return value.strip() or None, False, None
    if value is MISSING or _absent(value):
        return None, False, None
    if isinstance(value, (bool, np.bool_)):
        return ("true" if value else "false"), True, None
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer()):
        return str(int(value)), True, None
    return None, False, f"the label column '{column}' holds {_describe(value)}, not a string, integer or boolean"


def prepare_corpus(
    frame: pd.DataFrame,
    report: ReadReport,
    text_column: str,
    label_column: str | None,
    drop_duplicates: bool = False,
) -> pd.DataFrame:
    """The prepared table ``doc_id, text, label, source_row`` from a raw frame.

    A text that is not a string (a JSON number, list, object, boolean), a label that is not a string,
    integer or boolean, or a JSONL record without the text key makes its row malformed (named by line and
    reason). Empty texts are dropped; duplicate texts are counted and kept unless `drop_duplicates`.
    """
    path = Path(report.path)
    for column in (text_column, label_column):
        if column == "source_row":
            raise CorpusError(f"column 'source_row' of {report.path} is reserved (the prepared table's line numbers)")
        if column is not None and column not in frame.columns:
            available = [c for c in frame.columns if c != "source_row"]
            raise CorpusError(f"column '{column}' is not in {report.path}; columns there: {available}")
        if column is not None and list(frame.columns).count(column) > 1:
            raise CorpusError(f"{report.path}:1: the header names the column '{column}' twice")
    texts, labels, rows = [], [], []
    label_values = frame[label_column] if label_column is not None else [None] * len(frame)
    for row, text, label in zip(frame["source_row"], frame[text_column], label_values):
        text, problem = _text_cell(text, text_column)
        label, not_string, label_problem = _label_cell(label, label_column)
        if problem or label_problem:
            report.skip(path, int(row), problem or label_problem, int(row) + report.spans.get(int(row), 1) - 1)
            continue
        report.non_string_labels += not_string
        texts.append(text)
        labels.append(label)
        rows.append(int(row))
    prepared = pd.DataFrame({
        "text": pd.Series(texts, dtype="string"),
        "label": pd.Series(labels, dtype="string"),
        "source_row": pd.Series(rows, dtype=frame["source_row"].dtype),
    })
    empty = prepared["text"].str.len() == 0
    report.empty_text = int(empty.sum())
    report.empty_rows = prepared.loc[empty, "source_row"].tolist()
    if label_column is not None:
        report.missing_label = int((prepared["label"].isna() & ~empty).sum())
    prepared = prepared[~empty]
    duplicated = prepared["text"].duplicated(keep="first")
    report.duplicate_texts = int(duplicated.sum())
    if drop_duplicates:
        report.duplicate_rows = prepared.loc[duplicated, "source_row"].tolist()
        prepared = prepared[~duplicated]
        report.dropped_duplicates = report.duplicate_texts
    prepared = prepared.reset_index(drop=True)
    prepared.insert(0, "doc_id", range(len(prepared)))
    report.kept = len(prepared)
    report.kept_rows = prepared["source_row"].tolist()
    report.sort_malformed()
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
