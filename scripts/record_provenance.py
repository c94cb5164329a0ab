"""The resolved config and the installed package versions -> reports/provenance/."""

from pathlib import Path

import yaml

from softtopic.workflow import package_versions, script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    Path(snakemake.output.config).write_text(yaml.safe_dump(dict(snakemake.params.config), sort_keys=True))
    versions = package_versions()
    Path(snakemake.output.versions).write_text("".join(f"{name}=={version}\n" for name, version in versions))
    log.info("recorded the config and %d package versions", len(versions))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
