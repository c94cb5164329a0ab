"""Property-based tests of the corpus readers (issue 19): generated TSV, CSV and JSONL files mixing quotes in
every position, embedded delimiters and line breaks, CR/CRLF, BOMs, empty and whitespace fields, non-string
JSON values, missing and extra keys and invalid bytes. Whatever the file, either the reader raises the
project's own CorpusError naming the file (and the line, with a true reason), or:

- every physical line is accounted for exactly once (header, kept document, malformed row, empty text,
  dropped duplicate, sampled out, blank), and the console summary's counts add up to the file's lines;
- every claim of the report is checked against a trusted reader: CPython's csv module (strict) for CSV
  records, str.split for unquoted TSV, CPython's json for JSONL: a kept document's text is that reader's
  field, a malformed row's reason is what that reader finds.

Profiles: `ci` (the default: a fixed seed via derandomize, 120 examples per format, the file well under a
minute) and `soak` (HYPOTHESIS_PROFILE=soak: SOAK_EXAMPLES per format, default 2000, random seeds), e.g.
  HYPOTHESIS_PROFILE=soak SOAK_EXAMPLES=2000 nice -n 10 .venv/bin/python -m pytest -q \
      tests/test_fuzz_readers.py --hypothesis-show-statistics
"""

import csv
import io
import json
import os
import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from softtopic.corpus import CorpusError, decode_lines, prepare_corpus, read_table, subsample

settings.register_profile(
    "ci", max_examples=120, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "soak", max_examples=int(os.environ.get("SOAK_EXAMPLES", 2000)), deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# ---------------------------------------------------------------- generated files
WORDS = st.sampled_from(["market", "shares", "the", "café", "naïve", "日本", "x", "a b", "42", "\u00a0", "\u2028",
                         "\x00", "\x0c", "\x85", "\ufeff", "\x1e"])
FRAGMENTS = st.sampled_from(['"', '""', ",", "\t", "\n", "\r", "\r\n", " ", "", "\ufeff", "'", "\\", '"x"', "{", "}"])
PIECE = st.one_of(WORDS, WORDS, FRAGMENTS)
FIELD = st.lists(PIECE, max_size=5).map("".join)
BAD_BYTES = st.sampled_from([b"\xff", b"\xc3", b"\xe9", b"\xed\xa0\x80", b"\xf0\x9f"])


def quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@st.composite
def delimited_line(draw, delimiter: str, columns: int) -> str:
    """A row: mostly the header's field count, each field raw or quoted (quoting sometimes broken)."""
    count = draw(st.one_of(st.just(columns), st.just(columns), st.integers(0, columns + 2)))
    fields = []
    for _ in range(count):
        text = draw(FIELD)
        style = draw(st.sampled_from(["raw", "raw", "raw", "quoted", "quoted", "quoted", "open", "close", "inner"]))
        if style == "quoted":
            text = quote(text)
        elif style == "open":  # a quote opened and never closed on this line
            text = '"' + text
        elif style == "close":
            text = text + '"'
        elif style == "inner":
            text = quote(text) + draw(st.sampled_from(["x", " ", '"', "'"]))
        fields.append(text)
    return delimiter.join(fields)


@st.composite
def delimited_file(draw, fmt: str) -> bytes:
    delimiter = "\t" if fmt == "tsv" else ","
    header = draw(st.sampled_from([["text", "label"], ["text", "label"], ["text", "label"], ["text"],
                                   ["label", "text", "id"], ["id", "text"], ['"text"', "label"]]
                                  + ([["txt", "label"], ["text", "text"]] if rare(draw) else [])))
    lines = [delimiter.join(header)]
    for _ in range(draw(st.integers(0, 12))):
        soup = [FIELD, st.just(""), st.just("  ")] if rare(draw) else []
        lines.append(draw(st.one_of(delimited_line(delimiter, len(header)), *soup)))
    return assemble(draw, lines)


JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True), FIELD, WORDS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2)),
    max_leaves=4,
)
KEYS = st.sampled_from(["text", "text", "label", "label", "id", "source_row", "Text"])


@st.composite
def jsonl_line(draw) -> str:
    kind = draw(st.sampled_from(["object", "object", "object", "strings", "strings", "strings", "other", "soup", "cut",
                                 "escape"]))
    if kind == "strings":  # the well-formed case
        return json.dumps({"text": draw(FIELD), "label": draw(st.sampled_from(["a", "b", ""]))},
                          ensure_ascii=draw(st.booleans()))
    if kind == "object":
        record = draw(st.dictionaries(KEYS, st.one_of(FIELD, JSON_VALUE), max_size=4))
        return json.dumps(record, ensure_ascii=draw(st.booleans()))
    if kind == "other":
        return json.dumps(draw(JSON_VALUE))
    if kind == "cut":
        text = json.dumps({"text": draw(FIELD), "label": "a"})
        return text[: draw(st.integers(0, len(text)))]
    if kind == "escape":  # raw escapes, a lone surrogate among them
        return '{"text": "' + draw(st.sampled_from(["\\u00e9", "\\ud800", "\\udcff x", "\\\\", "\\n", '\\"'])) + '"}'
    return draw(st.lists(PIECE, max_size=6).map("".join))


@st.composite
def jsonl_file(draw) -> bytes:
    lines = draw(st.lists(st.one_of(jsonl_line(), jsonl_line(), jsonl_line(), st.just(""), st.just(" \t")), max_size=12))
    return assemble(draw, lines)


def rare(draw) -> bool:
    """True about one time in eight (three fair coins; a bounded integer would favour its ends)."""
    return draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans())


def assemble(draw, lines: list[str]) -> bytes:
    """Join lines with LF or CRLF, perhaps after a BOM and without the last line break, perhaps with an
    invalid byte somewhere."""
    text = "\ufeff" if draw(st.booleans()) else ""
    for line in lines:
        text += line + draw(st.sampled_from(["\n", "\n", "\r\n"]))
    if text and draw(st.booleans()):
        text = text[:-1]
    data = text.encode("utf-8", "surrogatepass")
    if data and rare(draw):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(BAD_BYTES) + data[at:]
    return data


# ---------------------------------------------------------------- the trusted readers
def csv_rows(text: str, delimiter: str):
    """CPython's csv module, strict, on one record's text (its line breaks already LF): the rows it reads,
    or the csv.Error it raises. A bare CR is text to softtopic (lines end at LF or CRLF) but a line end to
    the csv module, so it is swapped for a private-use character both ways."""
    try:
        rows = list(csv.reader(io.StringIO(text.replace("\r", "\ue000"), newline=""), delimiter=delimiter,
                               strict=True))
    except csv.Error as error:
        return error
    return [[field.replace("\ue000", "\r") for field in row] for row in rows]


def oracle_fields(lines, first: int, last: int, delimiter: str, quoting: str):
    """What the trusted reader finds in lines first..last (1-based): a list of fields, or a csv.Error."""
    text = "\n".join(lines[first - 1: last])
    if quoting == "none":
        assert first == last
        return text.split(delimiter)
    rows = csv_rows(text, delimiter)
    if isinstance(rows, csv.Error):
        return rows
    assert len(rows) == 1, f"lines {first}-{last} hold {len(rows)} records for the csv module: {rows}"
    return rows[0]


def check_error(error: CorpusError, path, data: bytes) -> None:
    """The project's own error names the file; one about a byte names the line holding it."""
    message = str(error)
    assert str(path) in message, message
    byte = re.search(rf"{re.escape(str(path))}:(\d+): byte 0x([0-9a-f]{{2}})", message)
    if byte:
        line = data.split(b"\n")[int(byte.group(1)) - 1]
        assert bytes.fromhex(byte.group(2)) in line
        with pytest.raises(UnicodeDecodeError):
            line.decode("utf-8")


def check_summary(summary: str, total: int, account: dict) -> None:
    """'...; N lines = a header + b kept + ...': the terms add up to N, the file's lines, each the account's."""
    match = re.search(r"; (\d+) lines = ([^;]+)", summary)
    assert match, summary
    assert int(match.group(1)) == total
    terms = [re.fullmatch(r"(\d+) ([a-z ]+)", term.strip()).groups() for term in match.group(2).split("+")]
    assert sum(int(count) for count, _ in terms) == total, summary
    for count, name in terms:
        assert int(count) == len(account[name.replace(" ", "_")]), (name, summary)


def check_read(path, data: bytes, fmt: str, quoting: str = "auto", drop_duplicates=False, sample=None):
    """Read `data` as the workflow does and check every invariant; returns the documents (or None after
    the project's own error)."""
    path.write_bytes(data)
    try:
        frame, report = read_table(path, fmt, quoting)
        label = "label" if "label" in frame.columns else None
        documents = prepare_corpus(frame, report, "text", label, drop_duplicates)
    except CorpusError as error:
        check_error(error, path, data)
        event("CorpusError: " + re.sub(r"^\S*:(\d+:)? ", "", str(error))[:30])
        return None
    if sample is not None:
        sampled = subsample(documents, sample, 0)
        report.record_sample(documents, sampled)
        documents = sampled
    lines = decode_lines(path)
    account = report.line_account()
    event(f"read: {min(len(report.malformed), 3)}+ malformed, {min(len(documents), 3)}+ kept, "
          f"{'multi-line rows' if report.multiline else 'one line per row'}")
    assert report.lines == len(lines)
    assert sorted(n for numbers in account.values() for n in numbers) == list(range(1, len(lines) + 1)), account
    check_summary(report.summary("fuzz"), len(lines), account)
    json.dumps(report.as_dict())
    for number in account["blank"]:
        assert not lines[number - 1].strip()
    if fmt == "jsonl":
        check_jsonl_claims(lines, report, documents)
    else:
        check_delimited_claims(lines, report, documents, "\t" if fmt == "tsv" else ",", report.quoting)
    return documents


def check_delimited_claims(lines, report, documents, delimiter, quoting):
    header = oracle_fields(lines, 1, report.header_lines, delimiter, quoting)
    assert isinstance(header, list) and "text" in header
    text_at = header.index("text")
    for first, last, reason in report.malformed_spans:
        fields = oracle_fields(lines, first, last, delimiter, quoting)
        if reason.startswith("the quote opening field"):
            assert isinstance(fields, csv.Error), (first, last, reason, fields)
            if "never closed" in reason:
                assert last == len(lines)
        elif "holds" not in reason:
            count = re.match(r"(\d+) fields, header has (\d+)", reason)
            assert count, reason
            assert isinstance(fields, list) and len(fields) == int(count.group(1)) != len(header) == int(count.group(2))
    for row, text in zip(documents["source_row"], documents["text"]):
        fields = oracle_fields(lines, row, row + report.spans[row] - 1, delimiter, quoting)
        assert isinstance(fields, list) and len(fields) == len(header) and fields[text_at].strip() == text
    for row in report.empty_rows:
        fields = oracle_fields(lines, row, row + report.spans[row] - 1, delimiter, quoting)
        assert fields[text_at].strip() == ""


def check_jsonl_claims(lines, report, documents):
    for first, last, reason in report.malformed_spans:
        assert first == last
        line = lines[first - 1]
        if reason.startswith("not valid JSON") or reason.startswith("not readable JSON"):
            with pytest.raises((ValueError, RecursionError)):
                json.loads(line)
            continue
        record = json.loads(line)
        if reason.startswith("not a JSON object"):
            assert not isinstance(record, dict)
        elif reason.startswith("no key 'text'"):
            assert "text" not in record
        elif reason.startswith("the text column"):
            assert not isinstance(record["text"], str) and record["text"] is not None
        else:
            assert reason.startswith("the label column"), reason
            assert not isinstance(record["label"], (str, int, type(None))) or isinstance(record["label"], float)
    for row, text, label in zip(documents["source_row"], documents["text"], documents["label"]):
        record = json.loads(lines[row - 1])
        assert isinstance(record["text"], str) and record["text"].strip() == text
        if isinstance(record.get("label"), str) and record["label"].strip():
            assert label == record["label"].strip()
    for row in report.empty_rows:
        value = json.loads(lines[row - 1])["text"]
        assert value is None or value.strip() == ""


# ---------------------------------------------------------------- the properties
@PROFILE
@given(data=st.data())
def test_tsv_every_line_accounted_for(tmp_path_factory, data):
    raw = data.draw(delimited_file("tsv"))
    quoting = data.draw(st.sampled_from(["none", "csv"]))
    check_read(tmp_path_factory.mktemp("tsv") / "c.tsv", raw, "tsv", quoting, data.draw(st.booleans()),
               data.draw(st.sampled_from([None, 2, 5])))


@PROFILE
@given(data=st.data())
def test_csv_every_line_accounted_for(tmp_path_factory, data):
    raw = data.draw(delimited_file("csv"))
    check_read(tmp_path_factory.mktemp("csv") / "c.csv", raw, "csv", "auto", data.draw(st.booleans()),
               data.draw(st.sampled_from([None, 2, 5])))


@PROFILE
@given(data=st.data())
def test_jsonl_every_line_accounted_for(tmp_path_factory, data):
    raw = data.draw(jsonl_file())
    check_read(tmp_path_factory.mktemp("jsonl") / "c.jsonl", raw, "jsonl", "auto", data.draw(st.booleans()),
               data.draw(st.sampled_from([None, 2, 5])))


def test_the_oracle_itself_disagrees_with_a_wrong_reading(tmp_path):
    """The checks can fail: a report claiming a kept row that the csv module reads otherwise is caught."""
    path = tmp_path / "c.csv"
    path.write_text('text,label\n"a, b",x\n')
    frame, report = read_table(path)
    documents = prepare_corpus(frame, report, "text", "label")
    documents.loc[0, "text"] = '"a'
    with pytest.raises(AssertionError):
        check_delimited_claims(decode_lines(path), report, documents, ",", "csv")
    report.kept_rows = []
    with pytest.raises(AssertionError):
        assert sorted(n for v in report.line_account().values() for n in v) == [1, 2]
