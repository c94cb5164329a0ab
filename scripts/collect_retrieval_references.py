"""Retrieval reference rows of one corpus -> reports/<corpus>/retrieval_references.csv."""

import json
from pathlib import Path

import pandas as pd

from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    rows = []
    for path in snakemake.input.references:
        lm, prompt = Path(path).parent.name, Path(path).stem
        for reference, scores in json.loads(Path(path).read_text()).items():
            rows.append({"reference": reference, "lm": None if reference == "bow_cosine" else lm, "prompt": prompt} | scores)
    table = pd.DataFrame(rows).drop_duplicates(subset=["reference", "lm"])
    table.to_csv(snakemake.output.table, index=False, float_format="%.4f")
    log.info("%d reference rows -> %s", len(table), snakemake.output.table)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
