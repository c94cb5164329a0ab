"""Documentation that cannot drift: results tables rendered from committed CSVs, and the
configuration reference generated from config/schema.yaml.

A results table in README.md or docs/*.md lies between two markers; the opening one holds a YAML
mapping that says how to render it:

    <!-- table: {source: reports/ablations/loss.csv, columns: {Arm: arm, n: n, Purity: purity}} -->
    | Arm | n | Purity |
    ...
    <!-- /table -->

Keys of the mapping:

- ``source``: the CSV, relative to the repository root (committed under reports/).
- ``columns``: header -> column. A column ``x`` that the CSV lacks but whose ``x_mean`` and ``x_sd``
  it has is shown as "mean ± sd" (an ablation summary). With ``group``, every column that is not a
  group key is a value: the mean ± sd over the rows of the group (raw per-run CSVs), or the pooled
  mean ± sd of the summary rows (their ``n`` runs each); ``n`` counts the runs.
- ``where``: {column: value or list of values}: keep only these rows.
- ``group``: columns whose values make one row each (in the order they first appear).
- ``sort``: a value column; ``-x`` sorts by x's mean, descending, ``x`` ascending.
- ``labels``: {column: {value: shown as}}; ``digits`` (default 3); ``best``: value columns whose
  highest mean is bold.

``python -m softtopic.doctables`` rewrites what lies between the markers and docs/configuration.md;
``--check`` changes nothing, names every file that would change and exits 1 if one would
(tests/test_doctables.py runs the check).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
TABLE = re.compile(r"(<!-- table:(?P<spec>.*?)-->\n)(?P<body>.*?)(<!-- /table -->)", re.S)
CONFIG_PAGE = "docs/configuration.md"
SPEC_KEYS = {"source", "columns", "where", "group", "sort", "labels", "digits", "best"}


def documents(root: Path = REPO) -> list[Path]:
    """The Markdown files whose tables are rendered: the README and every page under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _plain(text: str, digits: int) -> str:
    """A cell shown as it is: integers without decimals, other numbers to `digits` places."""
    value = _number(text)
    if value is None or text.strip() == "" or math.isnan(value):
        return text.strip()
    return str(int(value)) if value == int(value) else f"{value:.{digits}f}"


def _mean_sd(values: list[tuple[int, float, float]]) -> tuple[int, float, float]:
    """Pool (n, mean, sd) summaries into one: the mean and sample sd of all their runs together."""
    if len(values) == 1:
        return values[0]
    total = sum(n for n, _, _ in values)
    mean = sum(n * m for n, m, _ in values) / total
    if total < 2:
        return total, mean, float("nan")
    within = sum((n - 1) * s * s for n, _, s in values if n > 1)
    between = sum(n * (m - mean) ** 2 for n, m, _ in values)
    return total, mean, math.sqrt((within + between) / (total - 1))


def _read(source: str, root: Path) -> list[dict[str, str]]:
    path = root / source
    if not path.exists():
        raise ValueError(f"table source {source} does not exist")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _matches(row: dict[str, str], where: dict) -> bool:
    for column, wanted in where.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        cell = row[column]
        value = _number(cell)
        if not any(cell == str(o) or (value is not None and value == _number(str(o))) for o in options):
            return False
    return True


def _summary(rows: list[dict[str, str]], column: str, source: str) -> tuple[int, float, float]:
    """The runs of `rows` for one value column, pooled: from x_mean/x_sd and n, or from raw x."""
    if rows and f"{column}_mean" in rows[0]:
        parts = []
        for row in rows:
            if row[f"{column}_mean"] == "":
                continue
            n = int(float(row.get("n") or 1))
            sd = _number(row[f"{column}_sd"])
            parts.append((n, float(row[f"{column}_mean"]), 0.0 if sd is None or math.isnan(sd) else sd))
        return _mean_sd(parts) if parts else (0, float("nan"), float("nan"))
    if rows and column not in rows[0]:
        raise ValueError(f"{source} has no column {column!r} (nor {column}_mean and {column}_sd)")
    values = [float(row[column]) for row in rows if row[column] != ""]
    if not values:
        return 0, float("nan"), float("nan")
    return _mean_sd([(1, v, 0.0) for v in values])


def _cell(n: int, mean: float, sd: float, digits: int) -> str:
    if n == 0 or math.isnan(mean):
        return ""
    if n == 1 or math.isnan(sd):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def render_table(spec: dict, root: Path = REPO) -> str:
    """The Markdown table that `spec` (the marker's mapping) describes, ending in a newline."""
    unknown = set(spec) - SPEC_KEYS
    if unknown or "source" not in spec or "columns" not in spec:
        raise ValueError(f"table spec needs source and columns; unknown keys: {sorted(unknown)}")
    source, digits = spec["source"], int(spec.get("digits", 3))
    labels, columns = spec.get("labels", {}), dict(spec["columns"])
    rows = [row for row in _read(source, root) if _matches(row, spec.get("where", {}))]
    if not rows:
        raise ValueError(f"table from {source}: no row matches {spec.get('where')}")
    for column in [*spec.get("group", []), *spec.get("where", {})]:
        if column not in rows[0]:
            raise ValueError(f"{source} has no column {column!r}")
    keys = list(spec.get("group", []))
    groups: dict[tuple, list[dict[str, str]]] = {}
    for number, row in enumerate(rows):
        groups.setdefault(tuple(row[k] for k in keys) if keys else (number,), []).append(row)

    def cell(column: str, members: list[dict[str, str]]) -> tuple[str, float | None]:
        first = members[0]
        if column in keys:
            return str(labels.get(column, {}).get(first[column], _plain(first[column], digits))), None
        if column == "n" and keys:
            return str(sum(int(float(m.get("n") or 1)) for m in members)), None
        values = {m.get(column) for m in members}
        integral = len(values) == 1 and re.fullmatch(r"-?\d+", first.get(column, "")) is not None  # a count
        if column in first and (not keys or integral or _number(first[column]) is None and first[column] != ""):
            return str(labels.get(column, {}).get(first[column], _plain(first[column], digits))), None
        stats = _summary(members, column, source)
        return _cell(*stats, digits), stats[1]

    table = [{header: cell(column, members) for header, column in columns.items()} for members in groups.values()]
    if "sort" in spec:
        name = spec["sort"].lstrip("-")
        header = next((h for h, c in columns.items() if c == name), None)
        if header is None:
            raise ValueError(f"table from {source}: sort column {name!r} is not among the columns")
        if any(line[header][1] is None for line in table):
            raise ValueError(f"table from {source}: sort column {name!r} is not a value (mean) column")
        table.sort(key=lambda line: line[header][1], reverse=spec["sort"].startswith("-"))
    for name in spec.get("best", []):
        header = next((h for h, c in columns.items() if c == name), None)
        means = [line[header][1] for line in table] if header else []
        means = [m for m in means if m is not None and not math.isnan(m)]
        if not means:
            raise ValueError(f"table from {source}: best column {name!r} is not a value column among the columns")
        top = max(means)
        for line in table:
            if line[header][1] == top:
                line[header] = (f"**{line[header][0]}**", top)
    escape = lambda text: text.replace("|", "\\|")  # noqa: E731
    out = ["| " + " | ".join(map(escape, columns)) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(escape(line[h][0]) for h in columns) + " |" for line in table]
    return "\n".join(out) + "\n"


def render_document(text: str, root: Path = REPO, name: str = "") -> str:
    """`text` with every marked table rendered afresh from its CSV."""

    def replace(match: re.Match) -> str:
        try:
            spec = yaml.safe_load(match["spec"])
        except yaml.YAMLError as error:
            raise ValueError(f"{name}: the table marker is not valid YAML: {error}") from error
        try:
            body = render_table(spec, root)
        except (ValueError, KeyError) as error:
            raise ValueError(f"{name}: {error}") from error
        return match[1] + body + match[4]

    return TABLE.sub(replace, text)


# The configuration reference ------------------------------------------------------------------

def _resolve(node: dict, defs: dict) -> dict:
    """A schema node with its $ref (to #/$defs/...) merged in; the node's own keys win."""
    while "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _types(node: dict) -> list[str]:
    kinds = node.get("type", [])
    return kinds if isinstance(kinds, list) else [kinds]


def _bounds(node: dict) -> str:
    bits = []
    for key, symbol in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in node:
            bits.append(f"{symbol} {node[key]}")
    return " and ".join(bits)


def allowed(node: dict, defs: dict) -> str:
    """What a schema node allows, in words."""
    node = _resolve(node, defs)
    if "enum" in node:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" if v is None else f"`{v}`" for v in node["enum"])
    parts = []
    for kind in _types(node) or ["any"]:
        if kind in ("integer", "number"):
            bound = _bounds(node)
            parts.append(f"{kind} {bound}".strip())
        elif kind == "string":
            if "pattern" in node and node["pattern"] == defs.get("name", {}).get("pattern"):
                parts.append("a name (letters, digits, `_`, `-`)")
            elif "pattern" in node:
                parts.append(f"string matching `{node['pattern']}`")
            else:
                parts.append("non-empty string" if node.get("minLength") else "string")
        elif kind == "array":
            items = allowed(node.get("items", {}), defs) if node.get("items") else "any"
            extra = ", unique" if node.get("uniqueItems") else ""
            extra += f", at least {node['minItems']}" if node.get("minItems") else ""
            parts.append(f"list of ({items}){extra}")
        elif kind == "object":
            parts.append("mapping")
        else:
            parts.append(kind)
    return "; or ".join(parts)


def _default(node: dict) -> str:
    if "default" not in node:
        return "required" if node.get("_required") else "—"
    value = node["default"]
    if isinstance(value, dict) and not value:
        return "—"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _entries(node: dict, path: str, defs: dict, required: bool = False):
    """(key path, node) for every documented key under `node`, depth first, in schema order."""
    node = _resolve(node, defs)
    if path:
        yield path, {**node, "_required": required}
    for name, child in node.get("properties", {}).items():
        yield from _entries(child, f"{path}.{name}" if path else name, defs, name in node.get("required", []))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and ("properties" in extra or "type" in extra):
        yield from _entries(extra, f"{path}.<name>", defs)


def _text(value: str) -> str:
    """One table cell: whitespace folded, pipes escaped, and < > outside code spans kept as text."""
    parts = " ".join(str(value).split()).replace("|", "\\|").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;").replace(">", "&gt;") for i, p in enumerate(parts))


def config_reference(schema_path: Path) -> str:
    """docs/configuration.md: every key of the schema with its default, allowed values and description."""
    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    defs = schema.get("$defs", {})
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated from config/schema.yaml by `python -m softtopic.doctables`: edit the schema, not this page. -->",
        "",
        "Every key below is checked against `config/schema.yaml` before any job runs; a missing key takes",
        "its default. `<name>` stands for a name you choose (letters, digits, `_` and `-`). The default",
        "run's own values are in `config/config.yaml`; the paper's grid is `config/paper.yaml`.",
        "",
    ]
    for top, node in schema["properties"].items():
        node = _resolve(node, defs)
        required = " (required)" if top in schema.get("required", []) else ""
        out += [f"## `{top}`{required}", ""]
        if node.get("description"):
            out += [_text(node["description"]), ""]
        out += ["| key | default | allowed | description |", "|---|---|---|---|"]
        for path, child in _entries(node, top, defs, bool(required)):
            about = child.get("description", "One entry per name." if path.endswith("<name>") else "")
            out.append(
                f"| `{path}` | {_text(_default(child))} | {_text(allowed(child, defs))} "
                f"| {_text(about if path != top else 'See above.' if about else '')} |"
            )
        out.append("")
    return "\n".join(out)


def rendered(root: Path = REPO) -> dict[Path, str]:
    """Every generated file's expected text, by path: the documents with tables, the config reference."""
    pages = {path: render_document(path.read_text(encoding="utf-8"), root, str(path.relative_to(root)))
             for path in documents(root) if path.exists()}
    pages[root / CONFIG_PAGE] = config_reference(root / "config" / "schema.yaml")
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)
    stale = []
    try:
        pages = rendered()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path, text in pages.items():
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            stale.append(path.relative_to(REPO))
            if not args.check:
                path.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "rewritten"
    for path in stale:
        print(f"{path}: {verb}", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
