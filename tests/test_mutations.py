"""The mutation check's breaks (tests/mutations/mutations.py) still apply to the code: each break's text
occurs exactly once in its file, and each names tests that exist."""

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def load_mutations():
    spec = importlib.util.spec_from_file_location("mutations", REPO / "tests" / "mutations" / "mutations.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_every_break_applies_to_the_current_code():
    mutations = load_mutations()
    assert mutations.REPO == REPO and len(mutations.BREAKS) >= 60
    for item in mutations.BREAKS:
        original = (REPO / item.path).read_text(encoding="utf-8")
        assert mutations.apply(original, item) != original, item.name
        assert mutations.present(REPO, item.tests), f"break '{item.name}' names no existing test file"


def test_a_break_whose_text_moved_stops_the_check():
    mutations = load_mutations()
    item = mutations.BREAKS[0]
    with pytest.raises(SystemExit, match="occurs 0 times"):
        mutations.apply("text without the line", item)
