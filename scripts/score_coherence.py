"""One output.npz and the encoded reference -> per-topic coherence, means and missing words (JSON)."""

import json

from softtopic.metrics.coherence import Reference, coherence_report, topics_key
from softtopic.output import ModelOutput
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    topics = ModelOutput.load(snakemake.input.model).top_words()
    report = coherence_report(topics, Reference.load(snakemake.input.reference), snakemake.params.measures)
    report["key"] = topics_key(topics, snakemake.input.reference)
    report["topics"] = topics
    if report["missing_word_count"]:
        log.warning("%d topic words never occur in the reference and were left out: %s",
                    report["missing_word_count"], report["missing_words"])
    with open(snakemake.output.coherence, "w") as handle:
        json.dump(report, handle, indent=2)
    log.info("%s", {m: report[m] for m in snakemake.params.measures})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
