"""The documentation cannot drift: every results table equals what its committed CSV renders to, the
configuration reference equals what config/schema.yaml generates, and the README stays a front door."""

import re

import pytest
import yaml

from conftest import REPO
from softtopic.config import validate_schema
from softtopic.doctables import TABLE, allowed, config_reference, documents, render_document, render_table, rendered

NUMBER = re.compile(r"^\**[-−x×~]?\d[\d,.]*(e-?\d+)?( ?± ?[\d.]+)?( ?(%|s|tok/s))?\**$")


def test_every_generated_file_equals_what_its_source_renders():
    stale = [str(path.relative_to(REPO)) for path, text in rendered().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"out of date: {stale}; run `.venv/bin/python -m softtopic.doctables`"


def test_the_documents_hold_tables_from_the_committed_csvs():
    sources = set()
    for path in documents():
        for match in TABLE.finditer(path.read_text(encoding="utf-8")):
            sources.add(yaml.safe_load(match["spec"])["source"])
    assert {"reports/ablations/loss.csv",
            "reports/ablations/bbc_window.csv", "reports/paper-small/paper/stackoverflow/metrics.csv"} <= sources
    assert all((REPO / source).exists() for source in sources)


def test_no_table_of_figures_outside_the_markers():
    """A Markdown table whose cells are figures must be rendered from a CSV, not typed."""
    for path in documents():
        outside = TABLE.sub("", path.read_text(encoding="utf-8"))
        for line in outside.splitlines():
            if line.startswith("|") and not set(line) <= set("|-: "):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                figures = [c for c in cells if NUMBER.match(c)]
                assert not figures, f"{path.name}: a typed table of figures {figures} in: {line}"


def test_a_hand_edited_table_is_found_and_rendered_back(tmp_path):
    (tmp_path / "runs.csv").write_text("model,seed,purity\nb,0,0.5\na,0,0.25\na,1,0.75\nb,1,0.5\n")
    marker = "<!-- table: {source: runs.csv, group: [model], columns: {Model: model, n: n, Purity: purity}} -->\n"
    good = marker + "| Model | n | Purity |\n|---|---|---|\n| b | 2 | 0.500 ± 0.000 |\n| a | 2 | 0.500 ± 0.354 |\n<!-- /table -->\n"
    assert render_document(good, tmp_path) == good
    typed = good.replace("0.500 ± 0.354", "0.510 ± 0.354")
    assert render_document(typed, tmp_path) == good
    empty = marker + "<!-- /table -->\n"
    assert render_document("before\n" + empty + "after\n", tmp_path) == "before\n" + good + "after\n"


def test_summary_rows_are_pooled_over_their_runs(tmp_path):
    # two arms of n = 2: runs (1, 3) and (5, 7) -> all four runs: mean 4, sample sd sqrt(20 / 3)
    (tmp_path / "arms.csv").write_text(
        "lm,num_topics,n,purity_mean,purity_sd\nx,10,2,2.0,1.4142135623730951\nx,20,2,6.0,1.4142135623730951\n"
    )
    table = render_table({"source": "arms.csv", "group": ["lm"], "columns": {"LM": "lm", "n": "n", "P": "purity"}}, tmp_path)
    assert table.splitlines()[2] == "| x | 4 | 4.000 ± 2.582 |"
    ungrouped = render_table({"source": "arms.csv", "columns": {"K": "num_topics", "P": "purity"}}, tmp_path)
    assert ungrouped.splitlines()[2:] == ["| 10 | 2.000 ± 1.414 |", "| 20 | 6.000 ± 1.414 |"]


def test_where_sort_labels_and_best(tmp_path):
    (tmp_path / "runs.csv").write_text("model,tau,purity\ndsl,1.0000,0.2\ndsl,3.0000,0.9\nlda,,0.4\n")
    spec = {"source": "runs.csv", "group": ["model", "tau"], "sort": "-purity", "best": ["purity"],
            "labels": {"tau": {"": "–"}, "model": {"dsl": "DSL"}}, "columns": {"M": "model", "τ": "tau", "P": "purity"}}
    assert render_table(spec, tmp_path).splitlines()[2:] == ["| DSL | 3 | **0.900** |", "| lda | – | 0.400 |", "| DSL | 1 | 0.200 |"]
    only = render_table({**spec, "where": {"tau": [3]}}, tmp_path)
    assert only.splitlines()[2:] == ["| DSL | 3 | **0.900** |"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"source": "missing.csv", "columns": {"P": "purity"}}, "does not exist"),
        ({"source": "runs.csv", "columns": {"P": "recall"}, "group": ["model"]}, "no column 'recall'"),
        ({"source": "runs.csv", "columns": {"P": "purity"}, "where": {"model": "zzz"}}, "no row matches"),
        ({"source": "runs.csv", "columns": {"P": "purity"}, "colums": {}}, "unknown keys"),
        ({"source": "runs.csv", "columns": {"P": "purity"}, "best": ["recall"]}, "best column 'recall'"),
        ({"source": "runs.csv", "columns": {"M": "model"}, "sort": "model"}, "not a value"),
    ],
)
def test_a_bad_marker_names_what_is_wrong(tmp_path, spec, message):
    (tmp_path / "runs.csv").write_text("model,purity\na,0.5\n")
    with pytest.raises(ValueError, match=message):
        render_table(spec, tmp_path)


def test_the_configuration_reference_lists_every_key_with_default_and_allowed_values():
    page = config_reference(REPO / "config" / "schema.yaml")
    rows = {line.split("|")[1].strip().strip("`"): line for line in page.splitlines() if line.startswith("| `")}
    # nested keys, keys under a name of your choosing, and keys merged in from YAML anchors
    for key in ("corpora.<name>.quoting", "lms.<name>.dtype", "training.dsl.target_top_p",
                "training.zeroshottm.learn_priors", "metrics.rating.rater", "ablations.<name>.temperatures"):
        assert key in rows, key
    assert "`auto`" in rows["lms.<name>.dtype"] and "`bfloat16`" in rows["lms.<name>.dtype"]
    assert "| `512` |" in rows["lms.<name>.max_document_tokens"] and "integer ≥ 1" in rows["lms.<name>.max_document_tokens"]
    assert "| required |" in rows["corpora.<name>.path"]
    assert "[100, 100]" in rows["training.zeroshottm.hidden"]  # the anchor's override, not ProdLDA's 200
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    assert set(schema["properties"]) <= {key.split(".")[0] for key in rows}


def test_allowed_values_in_words():
    defs = {"names": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^x$"}}}
    assert allowed({"type": "number", "exclusiveMinimum": 0, "maximum": 1}, defs) == "number > 0 and ≤ 1"
    assert allowed({"type": ["integer", "null"], "minimum": 2}, defs) == "integer ≥ 2; or null"
    assert allowed({"$ref": "#/$defs/names"}, defs) == "list of (string matching `^x$`), at least 1"
    assert allowed({"enum": ["a", None]}, defs) == "one of `a`, `null`"


def test_the_default_runs_shown_are_the_default_configuration():
    """The README's default-run table shows the `gemma270m-w128` arm of config/default-choice.yaml:
    when a default changes (config/config.yaml or a schema default), those runs no longer show it."""
    schema = yaml.safe_load((REPO / "config/schema.yaml").read_text())
    default = validate_schema(yaml.safe_load((REPO / "config/config.yaml").read_text()), schema)
    choice = validate_schema(yaml.safe_load((REPO / "config/default-choice.yaml").read_text()), schema)
    (lm,) = default["run"]["lms"]
    assert default["run"]["corpora"] == ["bbc"] and default["lms"][lm] == choice["lms"]["gemma270m-w128"]
    assert default["corpora"]["bbc"] == choice["corpora"]["bbc"]
    assert {"dsl", "prodlda"} <= set(default["run"]["models"]) and 3 in default["run"]["temperatures"]
    for key in ("num_topics", "seeds", "prompts"):
        assert default["run"][key] == choice["run"][key], key
    for key in ("vocabulary", "training", "prompts", "prompt_template", "metrics"):
        assert default[key] == choice[key], key


def test_the_readme_is_a_front_door():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    for heading in ("## Two commands", "## What the default run shows", "## Use a trained model",
                    "## Your own corpus and LM", "## Run on a cluster", "## Share results", "## Read more"):
        assert heading in text, heading
    for page in re.findall(r"\]\((docs/[\w-]+\.md)", text):
        assert (REPO / page).exists(), page


def test_a_count_shared_by_the_group_is_shown_once_a_metric_always_with_its_spread(tmp_path):
    (tmp_path / "runs.csv").write_text("model,documents,td\na,868,1.0000\na,868,1.0000\n")
    spec = {"source": "runs.csv", "group": ["model"], "columns": {"M": "model", "Docs": "documents", "TD": "td"}}
    assert render_table(spec, tmp_path).splitlines()[2] == "| a | 868 | 1.000 ± 0.000 |"
