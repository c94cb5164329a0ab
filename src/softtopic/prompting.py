"""Prompts for the LM and the projection of the word vocabulary onto LM tokens (SPEC §1)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_INSTRUCTION = "Generate a label that capture the overall theme of the document below."
# The paper's plain-text prompt (no chat template); config/prompt_template.txt holds the same text.
DEFAULT_TEMPLATE = "{instruction}\n\nDocument: {document}\n\nTopic:"
PLACEHOLDERS = ("{instruction}", "{document}")


def check_template(template: str) -> str:
    """`template` with trailing whitespace stripped, or ValueError unless it holds `{instruction}` once,
    then `{document}` once."""
    template = template.rstrip()
    counts = {name: template.count(name) for name in PLACEHOLDERS}
    if any(count != 1 for count in counts.values()):
        raise ValueError(f"a prompt template must hold each of {list(PLACEHOLDERS)} exactly once; found {counts}")
    if template.index("{instruction}") > template.index("{document}"):
        raise ValueError("a prompt template must put {instruction} before {document}")
    return template


@dataclass(frozen=True)
class PromptTemplate:
    """`template` (default ``"{instruction}\\n\\nDocument: {document}\\n\\nTopic:"``) filled with the
    instruction and a document, trailing whitespace stripped."""

    instruction: str = DEFAULT_INSTRUCTION
    template: str = DEFAULT_TEMPLATE

    def __post_init__(self):
        object.__setattr__(self, "template", check_template(self.template))

    @property
    def prefix(self) -> str:
        return self.template.split("{document}")[0].replace("{instruction}", self.instruction)

    @property
    def suffix(self) -> str:
        return self.template.split("{document}")[1]

    def render(self, document: str) -> str:
        return (self.prefix + document.strip() + self.suffix).rstrip()

    def overhead_tokens(self, tokenizer) -> int:
        """Tokens the prompt spends besides the document (special tokens included)."""
        return len(tokenizer(self.render(""), add_special_tokens=True)["input_ids"])


def truncate_document(tokenizer, document: str, max_tokens: int) -> tuple[str, bool]:
    """Cut `document` after its first `max_tokens` tokens (at a token boundary, in characters).

    Returns the text and whether it was cut. The instruction and the "Topic:" suffix are never cut.
    """
    document = document.strip()
    encoding = tokenizer(document, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoding["offset_mapping"]
    if len(offsets) <= max_tokens:
        return document, False
    return document[: offsets[max_tokens - 1][1]].rstrip(), True


def _is_bare_space(tokenizer, token_id: int) -> bool:
    piece = tokenizer.convert_ids_to_tokens(token_id)
    return piece in ("▁", "Ġ", " ") or tokenizer.decode([token_id]).strip() == ""


PROJECTIONS = ("first_token", "chain")


def word_pieces(tokenizer, word: str) -> list[int]:
    """The LM token ids of ``" " + word``, without a leading bare "▁" (SentencePiece's lone space piece)."""
    ids = [int(i) for i in tokenizer(" " + word, add_special_tokens=False)["input_ids"]]
    if len(ids) > 1 and _is_bare_space(tokenizer, ids[0]):
        ids = ids[1:]
    if not ids:
        raise ValueError(f"the tokenizer maps vocabulary word '{word}' to no token")
    return ids


@dataclass
class Projection:
    """Each vocabulary word's LM token id (its first sub-token), its sub-tokens, and the words that share one."""

    token_ids: list[int]
    shared_groups: dict[int, list[str]]
    pieces: list[list[int]] | None = None

    @property
    def shared_words(self) -> int:
        """How many words share their first sub-token with another word."""
        return sum(len(words) for words in self.shared_groups.values())

    def summary(self, examples: int = 20) -> dict:
        groups = sorted(self.shared_groups.values(), key=lambda g: (-len(g), g))
        return {
            "vocabulary_size": len(self.token_ids),
            "words_sharing_first_subtoken": self.shared_words,
            "share_of_vocabulary": round(self.shared_words / max(len(self.token_ids), 1), 4),
            "distinct_tokens": len(set(self.token_ids)),
            "example_groups": groups[:examples],
        }


def project_vocabulary(tokenizer, words: Sequence[str]) -> Projection:
    """Map each word to the first sub-token of ``" " + word`` (the second if the first is a bare "▁")."""
    pieces = [word_pieces(tokenizer, word) for word in words]
    token_ids = [ids[0] for ids in pieces]
    by_token: dict[int, list[str]] = defaultdict(list)
    for word, token in zip(words, token_ids):
        by_token[token].append(word)
    shared = {token: group for token, group in by_token.items() if len(group) > 1}
    return Projection(token_ids=token_ids, shared_groups=shared, pieces=pieces)
