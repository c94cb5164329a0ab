"""The part files of a corpus's LM jobs -> the one tau-free logits.npy, hidden.npy and meta.json."""

import json
from pathlib import Path

import numpy as np

from softtopic.files import atomic_write
from softtopic.lm import gather_parts
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    logits, hidden, meta = gather_parts(snakemake.input.parts)
    for path, array in ((snakemake.output.logits, logits), (snakemake.output.hidden, hidden)):
        with atomic_write(path) as tmp:
            np.save(tmp, array)
    with atomic_write(snakemake.output.meta) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    shards = Path(snakemake.params.shard_dir)  # each job removed its own resume directory when done
    if shards.is_dir() and not any(shards.iterdir()):
        shards.rmdir()
    log.info("LM pass (%d jobs): %s", len(snakemake.input.parts), meta["extraction"])


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
