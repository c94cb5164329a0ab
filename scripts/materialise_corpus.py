"""Write a corpus that ships in a registry package (BBC News) as the raw JSONL table under data/raw/."""

from softtopic.sources import materialise_corpus
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    count = materialise_corpus(snakemake.params.source, snakemake.output.raw)
    log.info("wrote %d documents from %s to %s", count, snakemake.params.source, snakemake.output.raw)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
