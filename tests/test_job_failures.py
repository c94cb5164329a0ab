"""How a failing job reports (issue 19): the project's own errors (softtopic.errors.UserError) show their
message alone on the console, the traceback goes to the job's log; the LM stage's console summary says how
many documents were cut at max_document_tokens, and the gather step removes the shards it no longer needs."""

import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from softtopic.lm import _prepare_shard_dir, acquire_lm
from softtopic.vocabulary import check_vocabulary
from softtopic.workflow import script_logging

from conftest import load_script


def empty_vocabulary(tmp_path):
    check_vocabulary([], "mine", 3, 3, "simple")


def shard_dir_locked(tmp_path):
    held = _prepare_shard_dir(tmp_path / "shards", "first")  # this process's own first writer
    try:
        _prepare_shard_dir(tmp_path / "shards", "second")
    finally:
        held.close()


def path_taken_as_hub_id(tmp_path):
    (tmp_path / "models").mkdir()
    acquire_lm("models/SmolLM2-typo", tmp_path / "resources")


@pytest.mark.parametrize(("cause", "name", "message"), [
    (empty_vocabulary, "EmptyVocabularyError", "corpus 'mine': none of its 3 documents has a word that passes"),
    (shard_dir_locked, "BusyError", "shards is being written by another LM extraction (PID "),
    (path_taken_as_hub_id, "LMSourceError", "LM source 'models/SmolLM2-typo' looks like a path (the folder 'models/' "
                                            "exists here) but does not exist"),
])
def test_a_clear_error_is_one_console_line_and_its_traceback_goes_to_the_log(
        cause, name, message, tmp_path, monkeypatch, capsys, script_globals):
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "job.log"
    script_logging(str(log))
    try:
        cause(tmp_path)
    except Exception:
        sys.excepthook(*sys.exc_info())
    else:
        pytest.fail("no error")
    console = capsys.readouterr().err
    assert console.count("\n") == 1 and console.startswith(f"{name}: ") and message in console
    assert console.endswith(f" (traceback in {log})\n") and "Traceback" not in console
    written = log.read_text()
    assert f"job failed: {name}: " in written and "Traceback (most recent call last)" in written and message in written


def test_another_error_keeps_its_traceback_on_the_console(tmp_path, capsys, script_globals):
    script_logging(str(tmp_path / "job.log"))
    try:
        {}["corpus"]
    except KeyError:
        sys.excepthook(*sys.exc_info())
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_gather_says_how_many_documents_were_cut_and_removes_the_shards(tmp_path, capsys, script_globals):
    lm_dir = tmp_path / "results" / "bbc" / "lm" / "smollm2" / "default"
    parts = []
    for part, documents in ((1, [0, 2]), (2, [1])):
        stats = {"documents": len(documents), "unique_prompts": len(documents), "prompt_tokens": 10 * len(documents),
                 "tokens_computed_this_run": 5, "seconds_computing": 1.0, "tokens_per_second": 5.0, "shards_total": 2,
                 "shards_resumed": 1, "head_check_max_abs_error": 0.0}
        meta = {"max_document_tokens": 24, "documents_truncated": 2, "extraction": stats}
        path = lm_dir / "parts" / f"{part}-of-2.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, documents=np.asarray(documents), total_documents=3, logits=np.zeros((len(documents), 4)),
                 hidden=np.zeros((len(documents), 2)), meta=json.dumps(meta))
        (lm_dir / "shards" / f"{part}-of-2").mkdir(parents=True)
        (lm_dir / "shards" / f"{part}-of-2" / "shard-00000.npz").write_bytes(b"done")
        (lm_dir / "shards" / f"{part}-of-2.lock").write_text("1\n")
        parts.append(str(path))
    job = SimpleNamespace(
        input=SimpleNamespace(parts=parts), log=[str(tmp_path / "gather.log")], params=SimpleNamespace(shard_dir=str(lm_dir / "shards")),
        output=SimpleNamespace(logits=str(lm_dir / "logits.npy"), hidden=str(lm_dir / "hidden.npy"), meta=str(lm_dir / "meta.json")),
    )
    load_script("gather_lm_outputs").main(job)
    console = capsys.readouterr().err
    assert console.startswith("LM smollm2 on bbc (default): 3 documents, 2 cut at max_document_tokens = 24 LM tokens; "
                              "2 of 4 shards resumed, 10 of 30 prompt tokens computed in this run (2 jobs)")
    assert json.loads((lm_dir / "meta.json").read_text())["documents_truncated"] == 2
    assert not (lm_dir / "shards").exists()
