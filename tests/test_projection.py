"""The projection's bare-space rule: a word whose " " + word starts with a lone "▁" takes its second piece."""

import pytest

from softtopic.prompting import project_vocabulary

# Gemma's tokenizer splits digits one by one, so " 2024" is "▁", "2", "0", "2", "4".
NUMBER = "2024"


def test_gemma_number_really_starts_with_a_bare_space_and_skips_it(gemma_tokenizer):
    ids = gemma_tokenizer(" " + NUMBER, add_special_tokens=False)["input_ids"]
    pieces = gemma_tokenizer.convert_ids_to_tokens(ids)
    assert pieces[0] == "▁" and len(ids) > 1, pieces  # the branch under test is reached
    projection = project_vocabulary(gemma_tokenizer, ["market", NUMBER])
    assert projection.token_ids[1] == ids[1] and gemma_tokenizer.convert_ids_to_tokens(ids[1]) == "2"
    market = gemma_tokenizer(" market", add_special_tokens=False)["input_ids"]
    assert projection.token_ids[0] == market[0]  # an ordinary word keeps its first piece


class FakeTokenizer:
    """Maps whole strings to fixed pieces, to reach the edge cases of the rule."""

    PIECES = {" cat": ["▁cat"], " 42": ["▁", "4", "2"], " ok": ["Ġ", "ok"], " tab": ["\t", "tab"],
              " lone": ["▁"], " gone": [], " pa": ["▁p", "a"], " dog": ["▁", "dog"], " dogs": ["▁", "dog", "s"]}

    def __init__(self):
        self.vocab = sorted({p for pieces in self.PIECES.values() for p in pieces})

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [self.vocab.index(p) for p in self.PIECES[text]]}

    def convert_ids_to_tokens(self, token_id):
        return self.vocab[token_id]

    def decode(self, ids):
        return "".join(self.vocab[i] for i in ids).replace("▁", " ")


def test_fake_tokenizer_edge_cases():
    tok = FakeTokenizer()
    projection = project_vocabulary(tok, ["cat", "42", "ok", "tab", "lone", "pa", "dog", "dogs"])
    assert [tok.convert_ids_to_tokens(i) for i in projection.token_ids] == \
        ["▁cat", "4", "ok", "tab", "▁", "▁p", "dog", "dog"]
    assert projection.shared_groups == {tok.vocab.index("dog"): ["dog", "dogs"]}
    with pytest.raises(ValueError, match="maps vocabulary word 'gone' to no token"):
        project_vocabulary(tok, ["cat", "gone"])
