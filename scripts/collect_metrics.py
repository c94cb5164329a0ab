"""Per-run metric rows of one corpus -> reports/<corpus>/metrics.csv (one row per run)."""

import json

import pandas as pd

from softtopic.variants import tau_label
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    rows = [json.loads(open(path).read()) for path in snakemake.input.runs]
    table = pd.DataFrame(rows).sort_values(["model", "lm", "prompt", "num_topics", "tau", "seed"], na_position="first")
    # tau as its run directories spell it: %.4f would write tau 0.00002 as 0.0000 (and lose it from the tables)
    table["tau"] = table["tau"].map(lambda tau: "" if pd.isna(tau) else tau_label(tau))
    table.to_csv(snakemake.output.table, index=False, float_format="%.4f")
    log.info("%d runs -> %s", len(table), snakemake.output.table)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
