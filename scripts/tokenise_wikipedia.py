"""A MediaWiki dump (*.xml.bz2) -> its articles' tokens under the vocabulary's filter, one article per line."""

from softtopic.metrics.wikipedia import dump_token_lists, write_token_lines
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    token_lists = dump_token_lists(snakemake.input.dump, snakemake.params.filter, snakemake.params.min_word_length,
                                   processes=snakemake.threads)
    articles = write_token_lines(token_lists, snakemake.output.tokens)
    log.info("%d articles of %s tokenised with the '%s' filter", articles, snakemake.input.dump,
             snakemake.params.filter)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
