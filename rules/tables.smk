# The paper's main table and the retrieval table over every corpus of the grid.


rule main_table:
    input:
        tables=metric_tables,
        references=retrieval_reference_tables,
    output:
        markdown=report(
            "reports/tables/main.md",
            caption="../report/main_table.rst",
            category="Tables",
        ),
        latex=report(
            "reports/tables/main.tex",
            caption="../report/main_table_latex.rst",
            category="Tables",
        ),
        retrieval=report(
            "reports/tables/retrieval.md",
            caption="../report/retrieval_table.rst",
            category="Tables",
        ),
    log:
        "logs/tables/main.log",
    benchmark:
        "benchmarks/tables/main.tsv"
    conda:
        "../envs/metrics.yaml"
    params:
        lm_models=LM_MODELS,
        tau=config["metrics"]["table_tau"],
    script:
        "../scripts/main_table.py"
