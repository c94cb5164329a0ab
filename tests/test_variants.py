"""Variants (named ablation arms) and the ablation report: settings, inputs and run paths."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
import scipy.sparse as sp

from softtopic.ablations import markdown_table, summarise_arms
from softtopic.config import validate_config
from softtopic.models import TopicData, make_model
from softtopic.prompting import DEFAULT_INSTRUCTION, PromptTemplate
from softtopic.variants import ablation_grid, grid_runs, model_reads, model_settings

from conftest import REPO


@pytest.fixture
def config():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["variants"] = {
        "dsl-ce": {"model": "dsl", "training": {"loss": "ce", "target_top_k": 20}},
        "dsl-minilm": {"model": "dsl", "training": {"encoder_input": "embeddings"}},
        "dsl-bow": {"model": "dsl", "training": {"target": "bow", "loss": "ce"}},
    }
    config["ablations"] = {"loss": {"models": ["dsl", "dsl-ce"], "temperatures": [3]}}
    config["run"]["lms"] = ["smollm2"]
    return validate_config(config, REPO / "config" / "schema.yaml", root=REPO)


def test_variant_settings_are_the_base_models_with_overrides(config):
    settings = model_settings(config, "dsl-ce")
    assert settings["loss"] == "ce" and settings["target_top_k"] == 20
    assert settings["kl_weight"] == config["training"]["dsl"]["kl_weight"] == 1000
    assert model_settings(config, "dsl") == config["training"]["dsl"]


def test_what_a_variant_reads_follows_its_settings(config):
    # protocol fair (config.yaml): DSL reads the hidden state beside the document embedding
    assert model_reads(config, "dsl") == {"bow", "logits", "hidden", "embeddings"}
    assert model_reads(config, "dsl-minilm") == {"bow", "logits", "embeddings"}
    assert model_reads(config, "dsl-bow") == {"bow", "hidden", "embeddings"}
    assert model_reads(config, "combinedtm") == {"bow", "embeddings"}
    paper = {**config, "training": {**config["training"], "dsl": {**config["training"]["dsl"], "encoder_input": "hidden"}}}
    assert model_reads(paper, "dsl") == {"bow", "logits", "hidden"}
    assert model_reads(paper, "dsl-bow") == {"bow", "hidden"}


def test_variant_runs_have_their_own_directories(config):
    runs = grid_runs(config, ablation_grid(config, "loss"))
    assert ("bbc", "dsl-ce/smollm2/default/K10/tau3/seed0") in runs
    assert ("bbc", "dsl/smollm2/default/K20/tau3/seed1") in runs
    assert len(runs) == 2 * 2 * 2  # models x K x seeds, one tau
    assert ablation_grid(config, "loss")["corpora"] == config["run"]["corpora"]


def test_an_ablation_over_lms_runs_the_lm_models_per_lm_and_the_bow_models_once(config):
    config["ablations"]["teacher"] = {"lms": ["smollm2", "gemma270m"], "models": ["dsl", "prodlda"], "temperatures": [3]}
    runs = grid_runs(config, ablation_grid(config, "teacher"))
    assert ("bbc", "dsl/gemma270m/default/K10/tau3/seed0") in runs and ("bbc", "dsl/smollm2/default/K10/tau3/seed0") in runs
    assert sum(run.startswith("prodlda/") for _, run in runs) == 2 * 2  # K x seeds, not per LM
    assert len(runs) == 2 * 2 * 2 + 2 * 2
    assert ablation_grid(config, "loss")["lms"] == config["run"]["lms"] == ["smollm2"]


def test_bow_target_is_softmax_of_counts_over_tau():
    counts = sp.csr_matrix(np.array([[3, 0, 1, 0], [0, 0, 0, 0], [1, 1, 0, 2]], dtype=np.float32))
    model = make_model("dsl", num_topics=2, tau=2.0, target="bow", loss="ce")
    data = TopicData(bow=counts, vocabulary=list("abcd"), hidden=np.zeros((3, 4), np.float32))
    rows = model.rows(data)
    assert list(rows) == [0, 1, 2]  # every document, the empty one too (uniform target)
    expected = torch.softmax(torch.as_tensor(counts.toarray()) / 2.0, dim=-1)
    torch.testing.assert_close(model.targets(data, rows), expected)


def test_unknown_dsl_settings_are_refused():
    with pytest.raises(ValueError, match=r"DSL encoder_input must be one of \['hidden', 'embeddings', 'hidden\+embeddings'\]"):
        make_model("dsl", num_topics=2, encoder_input="mean")
    with pytest.raises(ValueError, match=r"DSL target must be one of \['lm', 'bow'\]"):
        make_model("dsl", num_topics=2, target="counts")


def test_missing_embeddings_are_named():
    model = make_model("dsl", num_topics=2, encoder_input="embeddings")
    data = TopicData(bow=sp.csr_matrix((3, 4)), vocabulary=list("abcd"), logits=np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="DSLProdLDA needs the sentence-encoder document embeddings"):
        model.rows(data)


def test_default_template_file_gives_todays_prompts():
    text = (REPO / "config" / "prompt_template.txt").read_text()
    for instruction in (DEFAULT_INSTRUCTION, "Name the document's central theme."):
        for document in ("Stocks fell.", "  two\nlines  ", ""):
            expected = f"{instruction}\n\nDocument: {document.strip()}\n\nTopic:".rstrip()
            assert PromptTemplate(instruction, text).render(document) == expected
    assert PromptTemplate(template=text) == PromptTemplate()


def test_a_template_without_its_placeholders_is_refused():
    with pytest.raises(ValueError, match="exactly once"):
        PromptTemplate(template="{instruction} then nothing")
    with pytest.raises(ValueError, match="before"):
        PromptTemplate(template="{document} {instruction}")


def test_arms_are_summarised_over_seeds():
    runs = pd.DataFrame({
        "corpus": ["so"] * 4, "model": ["dsl", "dsl", "dsl-ce", "dsl-ce"], "lm": ["smollm2"] * 4,
        "prompt": ["default"] * 4, "num_topics": [20] * 4, "tau": [3.0] * 4, "seed": [0, 1, 0, 1],
        "purity": [0.5, 0.7, 0.4, 0.4], "nmi": [0.1, 0.3, 0.2, 0.2],
    })
    summary = summarise_arms(runs)
    assert list(summary["arm"]) == ["dsl", "dsl-ce"] and list(summary["n"]) == [2, 2]
    assert summary["purity_mean"].tolist() == pytest.approx([0.6, 0.4])
    assert summary["purity_sd"].iloc[0] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert "| dsl | 2 | 0.600 ± 0.141 | 0.200 ± 0.141 |" in markdown_table(summary)
