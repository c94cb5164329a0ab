"""Per-corpus metric tables -> reports/tables/main.md, main.tex and retrieval.md (mean ± sd, Welch marks)."""

from pathlib import Path

import pandas as pd

from softtopic.tables import (
    COLUMNS,
    RETRIEVAL_COLUMNS,
    latex_table,
    main_table_runs,
    markdown_table,
    retrieval_sampling_note,
    summarise,
    with_references,
)
from softtopic.variants import tau_label
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    runs = pd.concat([pd.read_csv(path) for path in snakemake.input.tables], ignore_index=True)
    runs = main_table_runs(runs, snakemake.params.tau, snakemake.params.lm_models, snakemake.params.protocol)
    summary = summarise(runs, list(COLUMNS))
    caption = (
        f"Mean ± sd over K x seeds per corpus and method (DSL at tau = {tau_label(snakemake.params.tau)}; Protocol: how the "
        "baselines ran, docs/fair-ground.md); "
        "**bold**: best, <u>underlined</u>: worst, each by Welch's t-test at p < .05 against every other method.\n\n"
    )
    with open(snakemake.output.markdown, "w") as handle:
        handle.write(caption + markdown_table(summary))
    with open(snakemake.output.latex, "w") as handle:
        handle.write(latex_table(summary))
    references = pd.concat(
        [pd.read_csv(path).assign(corpus=Path(path).parent.name) for path in snakemake.input.references],
        ignore_index=True,
    )
    retrieval = with_references(summarise(runs, list(RETRIEVAL_COLUMNS)), references, snakemake.params.protocol)
    with open(snakemake.output.retrieval, "w") as handle:
        handle.write("Retrieval precision: " + caption[0].lower() + caption[1:] + retrieval_sampling_note([runs, references])
                     + markdown_table(retrieval, RETRIEVAL_COLUMNS))
    log.info("%d runs, %d methods", len(runs), summary["method"].nunique())


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
