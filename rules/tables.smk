# The paper's main table and the retrieval table over every corpus of the grid.


rule main_table:
    input:
        tables=metric_tables,
        references=retrieval_reference_tables,
    output:
        markdown="reports/tables/main.md",
        latex="reports/tables/main.tex",
        retrieval="reports/tables/retrieval.md",
    log:
        "logs/tables/main.log",
    benchmark:
        "benchmarks/tables/main.tsv"
    conda:
        "../envs/metrics.yaml"
    params:
        tau=config["metrics"]["table_tau"],
    script:
        "../scripts/main_table.py"
