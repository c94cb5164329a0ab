"""The paper's corpora: StackOverflow and TweetTopic in the authors' TSV layout, 20 Newsgroups through
scikit-learn (fetch injected), and TweetTopic's repeated tweets computed once by the LM stage."""

import json
import shutil
import urllib.error
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import shared_dataset_path
from softtopic.corpus import prepare_corpus, read_table
from softtopic.lm import extract
from softtopic.prompting import PromptTemplate, project_vocabulary
from softtopic.sources import CorpusSourceError, materialise_corpus


def fake_fetch(calls):
    def fetch(**kwargs):
        calls.append(kwargs)
        return SimpleNamespace(
            data=["The shuttle launch slipped a week.", "", "Which GPU for 3D rendering?"],
            target=np.array([1, 0, 0]),
            target_names=["comp.graphics", "sci.space"],
        )

    return fetch


def test_20newsgroups_writer_on_fake_data(tmp_path):
    calls = []
    dest = tmp_path / "data" / "raw" / "20ng.jsonl"
    assert materialise_corpus("sklearn-20newsgroups", dest, fetch=fake_fetch(calls)) == 3
    assert calls == [{"subset": "all", "remove": ("headers", "footers", "quotes")}]
    records = [json.loads(line) for line in dest.read_text().splitlines()]
    assert [r["label"] for r in records] == ["sci.space", "comp.graphics", "comp.graphics"]
    frame, report = read_table(dest)
    documents = prepare_corpus(frame, report, "text", "label", False)
    assert len(documents) == 2 and report.empty_text == 1  # the empty message is counted, not kept


def test_20newsgroups_offline_says_what_to_place_where(tmp_path):
    def offline(**kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    dest = tmp_path / "data" / "raw" / "20ng.jsonl"
    with pytest.raises(CorpusSourceError) as error:
        materialise_corpus("sklearn-20newsgroups", dest, fetch=offline)
    message = str(error.value)
    assert str(dest) in message and "name resolution" in message
    assert '"text"' in message and '"label"' in message and "newsgroup name" in message
    assert not dest.exists()


@pytest.fixture
def workspace_tsv(tmp_path):
    """Copy one of the authors' TSVs into the test's own workspace."""

    def copy(name):
        return shutil.copy(shared_dataset_path(name), tmp_path / name)

    return copy


def test_stackoverflow_tsv(workspace_tsv):
    frame, report = read_table(workspace_tsv("stackoverflow.tsv"), quoting="csv")
    documents = prepare_corpus(frame, report, "text", "label", False)
    assert len(documents) == 20000 and not report.malformed
    assert documents["label"].value_counts().between(999, 1000).all() and documents["label"].nunique() == 20


def test_tweettopic_tsv_keeps_its_repeats(workspace_tsv):
    frame, report = read_table(workspace_tsv("tweet_topic.tsv"))
    documents = prepare_corpus(frame, report, "text", "label", False)
    assert len(documents) == 21996 and documents["label"].nunique() == 19
    assert documents["text"].nunique() == 5790 and report.duplicate_texts == 21996 - 5790


def test_repeated_tweets_are_computed_once(smollm2, tmp_path):
    model, tokenizer = smollm2
    tweets = ["Big win for the Lakers tonight!", "New album drops Friday #music", "Flu shots open at the clinic"]
    copies = [tweets[0]] * 3 + [tweets[1]] * 5 + [tweets[2]] * 2  # TweetTopic repeats a tweet 2-5 times
    prompts = [PromptTemplate().render(t) for t in copies]
    ids = project_vocabulary(tokenizer, ["game", "music", "health"]).token_ids
    logits, hidden, stats = extract(model, tokenizer, prompts, ids, tmp_path / "shards", batch_size=4, progress=False)
    assert stats.documents == 10 and stats.unique_prompts == 3
    once = sum(len(tokenizer(PromptTemplate().render(t))["input_ids"]) for t in tweets)
    assert stats.tokens_computed == once
    for group in (slice(0, 3), slice(3, 8), slice(8, 10)):
        assert (logits[group] == logits[group][0]).all() and (hidden[group] == hidden[group][0]).all()
