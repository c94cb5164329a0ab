"""The part files of a corpus's LM jobs -> the one tau-free logits.npy, hidden.npy and meta.json."""

import json
import sys
from pathlib import Path

import numpy as np

from softtopic.files import atomic_write
from softtopic.lm import discard_shards, gather_parts
from softtopic.workflow import script_logging


def summary(meta: dict) -> str:
    """One console line: documents, how many were cut at max_document_tokens, shards resumed."""
    extraction = meta["extraction"]
    return (
        f"{extraction['documents']} documents, {meta['documents_truncated']} cut at max_document_tokens = "
        f"{meta['max_document_tokens']} LM tokens; {extraction['shards_resumed']} of {extraction['shards_total']} "
        f"shards resumed, {extraction['tokens_computed_this_run']} of {extraction['prompt_tokens']} prompt tokens "
        f"computed in this run ({extraction['jobs']} job{'s' if extraction['jobs'] > 1 else ''})"
    )


def main(snakemake):
    log = script_logging(snakemake.log[0])
    # written into the outputs part by part: memory holds one part, not documents x (|V| + d)
    with atomic_write(snakemake.output.logits) as logits, atomic_write(snakemake.output.hidden) as hidden:
        _, _, meta = gather_parts(snakemake.input.parts, logits, hidden)
    with atomic_write(snakemake.output.meta) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    shards = Path(snakemake.params.shard_dir)  # each job's resume directory, kept until its part is gathered
    for part in snakemake.input.parts:
        if (shards / Path(part).stem).is_dir():
            discard_shards(shards / Path(part).stem)
    if shards.is_dir() and not any(shards.iterdir()):
        shards.rmdir()
    log.info("LM pass (%d jobs): %s", len(snakemake.input.parts), meta["extraction"])
    where = Path(snakemake.output.meta)
    print(f"LM {where.parent.parent.name} on {where.parents[3].name} ({where.parent.name}): {summary(meta)}; "
          f"details: {where}", file=sys.stderr)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
