"""A test that needs ../shared/datasets fails, naming the file and the fix, when it is missing (never skips)."""

import pytest

import conftest


def test_a_missing_shared_dataset_fails_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED_DATASETS", tmp_path)
    with pytest.raises(pytest.fail.Exception, match=r"(?s)stackoverflow\.tsv does not exist.*SOFTTOPIC_SHARED_DATASETS"):
        conftest.shared_dataset_path("stackoverflow.tsv")
    (tmp_path / "stackoverflow.tsv").write_text("text\tlabel\n")
    assert conftest.shared_dataset_path("stackoverflow.tsv") == tmp_path / "stackoverflow.tsv"
