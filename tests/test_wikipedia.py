"""A MediaWiki dump as the coherence reference: a hand-made dump of a few pages, read with gensim's WikiCorpus."""

import bz2
from xml.sax.saxutils import escape

import numpy as np
import pytest
import yaml

from softtopic.metrics.coherence import Reference, coherence_report, gensim_coherence
from softtopic.metrics.wikipedia import dump_token_lists, read_token_lines, write_token_lines
from softtopic.vocabulary import filter_to_vocabulary, tokenize, tokenize_documents

from conftest import REPO
from test_workflow import snakemake

PAGE = """  <page>
    <title>{title}</title>
    <ns>{ns}</ns>
    <id>{id}</id>
    <revision>
      <id>{revision}</id>
      <text xml:space="preserve">{text}</text>
    </revision>
  </page>
"""


def write_dump(path, pages):
    """A MediaWiki export (schema 0.10) of (title, namespace, wikitext) pages, bz2-compressed like the real dumps."""
    body = "".join(PAGE.format(title=escape(title), ns=ns, id=i + 1, revision=100 + i, text=escape(text))
                   for i, (title, ns, text) in enumerate(pages))
    xml = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">\n'
           "  <siteinfo><sitename>Test</sitename></siteinfo>\n" + body + "</mediawiki>\n")
    path.write_bytes(bz2.compress(xml.encode("utf-8")))
    return path


def article(words, seed):
    """Wikitext of about 80 words drawn from `words`, with the markup WikiCorpus strips: a link with a
    label, a template, a reference, a category."""
    rng = np.random.default_rng(seed)
    sentences = [" ".join(rng.choice(words, 8)) for _ in range(10)]
    return ("'''Lead''' [[Target page|" + sentences[0] + "]] {{cite web|url=http://example.org|title=zzzcitation}} "
            + ". the ".join(sentences[1:]) + "<ref>zzzreference</ref>\n[[Category:Zzzcategory]]")


def plain_text(wikitext):
    """What remains of `article`'s wikitext once the markup is stripped."""
    from gensim.corpora.wikicorpus import filter_wiki

    return filter_wiki(wikitext)


WORDS = ["market", "shares", "bank", "growth", "film", "award", "music", "match", "season", "players", "economy",
         "profit", "actor", "director", "goal"]


def pages(words):
    return [
        ("Economy", 0, article(words[:8], 0)),
        ("Film", 0, article(words[6:], 1)),
        ("Sport", 0, article(words[::2], 2)),
        ("Economics", 0, "#REDIRECT [[Economy]]"),  # a redirect: too short, left out
        ("Talk:Economy", 1, article(words, 3)),  # not the main namespace: left out
        ("Stub", 0, "a market bank stub"),  # under 50 tokens: left out
    ]


def test_articles_are_read_with_wikicorpus_and_filtered_like_the_vocabulary(tmp_path):
    dump = write_dump(tmp_path / "wiki.xml.bz2", pages(WORDS))
    found = list(dump_token_lists(dump, "simple", 3))
    expected = [tokenize(plain_text(text)) for _, _, text in pages(WORDS)[:3]]
    assert found == expected and all(len(tokens) >= 50 for tokens in found)
    assert not {"zzzcitation", "zzzreference", "zzzcategory", "cite", "url"} & {w for t in found for w in t}
    # the release filter (spaCy) through WikiCorpus's worker process: what tokenize_documents gives the text
    released = list(dump_token_lists(dump, "release", 3, min_tokens=1))
    assert released[:3] == tokenize_documents([plain_text(t) for _, _, t in pages(WORDS)[:3]], "release", 3)
    assert len(released) == 4  # with min_tokens 1 the stub stays; the redirect has no token under the filter
    write_token_lines(found, tmp_path / "tokens.txt.gz")
    assert list(read_token_lines(tmp_path / "tokens.txt.gz")) == found


def test_missing_dump_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.xml.bz2: no such MediaWiki dump"):
        list(dump_token_lists(tmp_path / "absent.xml.bz2", "simple", 3))


@pytest.mark.workflow
def test_workflow_scores_coherence_against_the_dump(tmp_path):
    """The tiny config's corpus with a dump as the reference: tokenised once, encoded with the corpus
    vocabulary, and the coherence of a topic equals gensim's over the dump's articles."""
    config = yaml.safe_load((REPO / "config" / "test" / "config.yaml").read_text())
    config["vocabulary"]["filter"] = "simple"
    base = tmp_path / "self.yaml"
    base.write_text(yaml.safe_dump(config))
    snakemake(tmp_path, base, "results/bbc/vocabulary/vocabulary.txt")
    vocabulary = (tmp_path / "results/bbc/vocabulary/vocabulary.txt").read_text().split()
    words = vocabulary[:15]
    (tmp_path / "data" / "raw").mkdir(parents=True, exist_ok=True)
    write_dump(tmp_path / "data/raw/wiki.xml.bz2", pages(words))
    config["metrics"]["coherence_reference"] = "data/raw/wiki.xml.bz2"
    wiki = tmp_path / "wiki.yaml"
    wiki.write_text(yaml.safe_dump(config))
    output = snakemake(tmp_path, wiki, "results/bbc/coherence/reference.npz")
    assert "rule tokenise_wikipedia" in output and "rule encode_reference" in output

    articles = [tokenize(plain_text(text)) for _, _, text in pages(words)[:3]]
    reference = Reference.load(tmp_path / "results/bbc/coherence/reference.npz")
    assert reference.vocabulary == vocabulary and reference.num_docs == 3
    counts = {w: sum(t.count(w) for t in articles) for w in vocabulary}
    assert reference.token_counts().tolist() == [counts[w] for w in vocabulary]
    assert "3 articles" in (tmp_path / "logs/wikipedia/tokens.log").read_text()
    assert "3 reference documents" in (tmp_path / "logs/bbc/coherence/reference.log").read_text()

    topics = [words[:5], words[5:9] + ["notinthedump"]]
    report = coherence_report(topics, reference)
    assert report["missing_word_count"] == 1 and report["missing_words"] == {"1": ["notinthedump"]}
    texts = filter_to_vocabulary(articles, vocabulary)
    for measure in ("c_v", "c_npmi"):
        expected = gensim_coherence([words[:5], words[5:9]], texts, measure)
        np.testing.assert_allclose(report["per_topic"][measure], expected, rtol=0, atol=1e-9)
    assert "Nothing to be done" in snakemake(tmp_path, wiki, "-n", "results/bbc/coherence/reference.npz")
