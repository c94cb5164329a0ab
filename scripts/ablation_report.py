"""Metric rows of one ablation's runs -> reports/ablations/<name>.csv, .md and .pdf (mean ± sd per arm)."""

import json

import pandas as pd

from softtopic.ablations import markdown_table, plot_arms, summarise_arms
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    runs = pd.DataFrame([json.loads(open(path).read()) for path in snakemake.input.runs])
    summary = summarise_arms(runs)
    summary.to_csv(snakemake.output.table, index=False, float_format="%.4f")
    with open(snakemake.output.markdown, "w") as handle:
        handle.write(f"# {snakemake.params.title}\n\n" + markdown_table(summary))
    plot_arms(summary, snakemake.output.figure, snakemake.params.title)
    log.info("%d runs in %d arms -> %s", len(runs), len(summary), snakemake.output.figure)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
