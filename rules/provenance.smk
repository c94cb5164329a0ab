# What a run was made with: the resolved config (schema defaults filled in) and the installed package
# versions, next to the reports. A config change reruns it (params).


rule record_provenance:
    output:
        config=report(
            "reports/provenance/config.yaml",
            caption="../report/config.rst",
            category="Provenance",
        ),
        versions=report(
            "reports/provenance/versions.txt",
            caption="../report/versions.rst",
            category="Provenance",
        ),
    log:
        "logs/provenance.log",
    benchmark:
        "benchmarks/provenance.tsv"
    conda:
        "../envs/plots.yaml"
    params:
        config=resolved_config,
    script:
        "../scripts/record_provenance.py"
