"""Raw table -> prepared documents (doc_id, text, label, source_row) and a report of what was dropped."""

import sys

from softtopic.corpus import prepare_corpus, read_table, subsample, write_report
from softtopic.files import atomic_write
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    settings = snakemake.params.corpus
    frame, report = read_table(snakemake.input.raw, settings["format"], settings["quoting"], settings["encoding"])
    documents = prepare_corpus(
        frame, report, settings["text_column"], settings["label_column"], settings["drop_duplicates"]
    )
    if settings["sample"] is not None:
        sampled = subsample(documents, settings["sample"], settings["sample_seed"])
        report.record_sample(documents, sampled)
        documents = sampled
    for problem in report.malformed:
        log.warning("malformed row skipped: %s", problem)
    with atomic_write(snakemake.output.documents) as tmp:
        documents.to_parquet(tmp, index=False)
    write_report(report, snakemake.output.report)
    log.info("%s", report.as_dict() | {"malformed": f"{len(report.malformed)} rows (listed above)"})
    # Snakemake shows a script's stderr on the console: one line per corpus, details in the report.
    print(f"{report.summary(snakemake.wildcards.corpus)}; details: {snakemake.output.report}", file=sys.stderr)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
