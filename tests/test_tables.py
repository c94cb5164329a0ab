"""The main table: mean ± sd over K x seeds, DSL at one tau, best/worst by Welch's t-test."""

import numpy as np
import pandas as pd

from softtopic.tables import (
    RETRIEVAL_COLUMNS,
    latex_table,
    main_table_runs,
    markdown_table,
    significantly,
    summarise,
    with_references,
)
from softtopic.variants import model_names, reads_lm_stage

# What the main_table rule passes: every model name whose runs read the LM stage (one rule, in variants).
LM_MODELS = [m for m in model_names({}) if reads_lm_stage({}, m)]


def runs_frame():
    rows = []
    spread = [0.0, 0.01, -0.01, 0.0]
    for model, lm, tau, centre in [("lda", None, None, 0.30), ("prodlda", None, None, 0.35),
                                   ("dsl", "smollm2", 3.0, 0.40), ("dsl", "smollm2", 1.0, 0.90)]:
        for i, (k, seed) in enumerate([(10, 0), (10, 1), (20, 0), (20, 1)]):
            rows.append({"corpus": "bbc", "model": model, "lm": lm, "tau": tau, "num_topics": k, "seed": seed,
                         "c_v": centre + spread[i], "purity": 0.5 + 0.1 * (i % 2)})
    return pd.DataFrame(rows)


def test_dsl_rows_use_one_temperature():
    runs = main_table_runs(runs_frame(), tau=3, lm_models=LM_MODELS)
    assert sorted(runs["method"].unique()) == ["DSL, smollm2", "LDA", "ProdLDA"] and len(runs) == 12


def test_every_lm_supervised_backbone_is_named_per_lm_and_filtered_by_tau():
    rows = [{"corpus": "so", "model": m, "lm": lm, "tau": tau, "c_v": 0.5}
            for m in ["dsl-etm", "etm"] for lm in (["smollm2", "gemma"] if m != "etm" else [np.nan])
            for tau in ([1.0, 3.0] if m != "etm" else [np.nan])]
    runs = main_table_runs(pd.DataFrame(rows), tau=3, lm_models=LM_MODELS)
    assert sorted(runs["method"]) == ["DSL-ETM, gemma", "DSL-ETM, smollm2", "ETM"]
    assert (runs.loc[runs["model"] == "dsl-etm", "tau"] == 3.0).all()
    summary = summarise(runs, ["c_v"])
    assert [line.split(" | ")[0] for line in markdown_table(summary).splitlines()[2:]] == [
        "| ETM", "| DSL-ETM, gemma", "| DSL-ETM, smollm2"]


def test_a_variant_of_an_lm_model_is_named_per_lm_and_filtered_by_tau():
    config = {"variants": {"dsl-ce": {"model": "dsl", "training": {"objective": "ce"}}}}
    lm_models = [m for m in model_names(config) if reads_lm_stage(config, m)]
    rows = [{"corpus": "so", "model": "dsl-ce", "lm": "gemma", "tau": tau, "c_v": 0.5} for tau in (1.0, 3.0)]
    rows.append({"corpus": "so", "model": "lda", "lm": np.nan, "tau": np.nan, "c_v": 0.4})
    runs = main_table_runs(pd.DataFrame(rows), tau=3, lm_models=lm_models)
    assert runs["method"].tolist() == ["dsl-ce, gemma", "LDA"] and runs["tau"].tolist()[0] == 3.0
    assert "dsl-ce" in lm_models and "lda" not in lm_models


def test_mean_sd_and_marks():
    summary = summarise(main_table_runs(runs_frame(), tau=3, lm_models=LM_MODELS), ["c_v", "purity"]).set_index(["method", "metric"])
    dsl = summary.loc[("DSL, smollm2", "c_v")]
    assert np.isclose(dsl["mean"], 0.40) and np.isclose(dsl["sd"], np.sqrt(0.0002 / 3)) and dsl["n"] == 4
    assert dsl["best"] and not dsl["worst"]
    assert summary.loc[("LDA", "c_v"), "worst"] and not summary.loc[("ProdLDA", "c_v")][["best", "worst"]].any()
    assert not summary.xs("purity", level="metric")[["best", "worst"]].any().any()  # all equal: no mark


def test_welch_needs_every_other_group_beaten():
    top, close, low = np.array([1.0, 1.1, 0.9]), np.array([0.95, 1.05, 1.0]), np.array([0.1, 0.2, 0.15])
    assert significantly([top, low], 0, "greater")
    assert not significantly([top, close, low], 0, "greater")
    assert significantly([top, close, low], 2, "less")


def test_markdown_and_latex_layout():
    summary = summarise(main_table_runs(runs_frame(), tau=3, lm_models=LM_MODELS), ["c_v", "purity"])
    markdown = markdown_table(summary)
    lines = markdown.splitlines()
    assert lines[0] == "| Method | bbc C_V | bbc Purity |"
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| LDA", "| ProdLDA", "| DSL, smollm2"]
    assert "**0.400 ± 0.008**" in markdown and "<u>0.300 ± 0.008</u>" in markdown
    latex = latex_table(summary)
    assert r"\multicolumn{2}{c}{bbc}" in latex and r"\textbf{0.400 $\pm$ 0.008}" in latex
    assert r"\underline{0.300 $\pm$ 0.008}" in latex and latex.strip().endswith(r"\end{tabular}")


def test_retrieval_table_has_reference_rows_last():
    runs = runs_frame().assign(**{"p@1": 0.5, "p@5": 0.4, "p@10": 0.3})
    summary = summarise(main_table_runs(runs, tau=3, lm_models=LM_MODELS), list(RETRIEVAL_COLUMNS))
    references = pd.DataFrame([{"corpus": "bbc", "reference": "bow_cosine", "lm": None, "p@1": 0.7, "p@5": 0.6, "p@10": 0.5},
                               {"corpus": "bbc", "reference": "lm_soft_label_tau1", "lm": "smollm2",
                                "p@1": 0.6, "p@5": 0.5, "p@10": 0.4}])
    lines = markdown_table(with_references(summary, references), RETRIEVAL_COLUMNS).splitlines()
    assert lines[0] == "| Method | bbc P@1 | bbc P@5 | bbc P@10 |"
    assert lines[-2:] == ["| Reference: BoW cosine | 0.700 | 0.600 | 0.500 |",
                          "| Reference: LM soft labels τ=1, smollm2 | 0.600 | 0.500 | 0.400 |"]
    assert lines[2] == "| LDA | 0.500 ± 0.000 | 0.400 ± 0.000 | 0.300 ± 0.000 |"
