from softtopic.prompting import DEFAULT_INSTRUCTION, PromptTemplate, project_vocabulary, truncate_document


def test_prompt_is_the_papers_format():
    prompt = PromptTemplate().render("  Stocks fell sharply.\n ")
    assert prompt == f"{DEFAULT_INSTRUCTION}\n\nDocument: Stocks fell sharply.\n\nTopic:"


def test_truncation_cuts_only_the_document(smollm2):
    _, tokenizer = smollm2
    document = "The central bank raised interest rates again " * 20
    cut, was_cut = truncate_document(tokenizer, document, 12)
    assert was_cut
    assert len(tokenizer(cut, add_special_tokens=False)["input_ids"]) <= 12
    assert document.startswith(cut)
    prompt = PromptTemplate().render(cut)
    assert prompt.startswith(DEFAULT_INSTRUCTION) and prompt.endswith("\n\nTopic:")
    assert truncate_document(tokenizer, "Short text.", 12) == ("Short text.", False)


def test_projection_takes_first_subtoken_of_space_word(smollm2):
    _, tokenizer = smollm2
    words = ["market", "election", "football"]
    projection = project_vocabulary(tokenizer, words)
    for word, token in zip(words, projection.token_ids):
        assert token == tokenizer(" " + word, add_special_tokens=False)["input_ids"][0]
    assert tokenizer.convert_ids_to_tokens(projection.token_ids[0]) == "Ġmarket"


def test_words_sharing_a_first_subtoken_are_grouped(smollm2):
    _, tokenizer = smollm2
    projection = project_vocabulary(tokenizer, ["http", "httpclient", "https", "japan", "june", "market"])
    groups = sorted(sorted(g) for g in projection.shared_groups.values())
    assert groups == [["http", "httpclient"], ["japan", "june"]]  # "https" is a token of its own
    assert projection.shared_words == 4
    assert projection.summary()["share_of_vocabulary"] == round(4 / 6, 4)


def test_gemma_projection_skips_a_bare_space_piece(gemma_tokenizer):
    words = ["market", "zqxjv", "election"]
    projection = project_vocabulary(gemma_tokenizer, words)
    for word, token in zip(words, projection.token_ids):
        ids = gemma_tokenizer(" " + word, add_special_tokens=False)["input_ids"]
        pieces = gemma_tokenizer.convert_ids_to_tokens(ids)
        expected = ids[1] if pieces[0] == "▁" and len(ids) > 1 else ids[0]
        assert token == expected
        assert gemma_tokenizer.convert_ids_to_tokens(token) != "▁"
    assert projection.shared_words == 0
