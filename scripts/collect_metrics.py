"""Per-run metric rows of one corpus -> reports/<corpus>/metrics.csv (one row per run)."""

import json

import pandas as pd

from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    rows = [json.loads(open(path).read()) for path in snakemake.input.runs]
    table = pd.DataFrame(rows).sort_values(["model", "lm", "prompt", "num_topics", "tau", "seed"], na_position="first")
    table.to_csv(snakemake.output.table, index=False, float_format="%.4f")
    log.info("%d runs -> %s", len(table), snakemake.output.table)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
