"""The part files of a corpus's LM jobs -> the one tau-free logits.npy, hidden.npy and meta.json."""

import json
from pathlib import Path

import numpy as np

from softtopic.files import atomic_write
from softtopic.lm import gather_parts
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    # written into the outputs part by part: memory holds one part, not documents x (|V| + d)
    with atomic_write(snakemake.output.logits) as logits, atomic_write(snakemake.output.hidden) as hidden:
        _, _, meta = gather_parts(snakemake.input.parts, logits, hidden)
    with atomic_write(snakemake.output.meta) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    shards = Path(snakemake.params.shard_dir)  # each job removed its own resume directory when done
    if shards.is_dir() and not any(shards.iterdir()):
        shards.rmdir()
    log.info("LM pass (%d jobs): %s", len(snakemake.input.parts), meta["extraction"])


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
