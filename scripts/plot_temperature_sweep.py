"""Metric tables of all corpora -> reports/temperature_sweep.pdf."""

import pandas as pd

from softtopic.plots import plot_temperature_sweep
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    table = pd.concat([pd.read_csv(path) for path in snakemake.input.tables], ignore_index=True)
    plot_temperature_sweep(table, snakemake.output.figure)
    log.info("plotted %d runs -> %s", len(table), snakemake.output.figure)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
