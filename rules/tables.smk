# The paper's main table over every corpus of the grid.


rule main_table:
    input:
        tables=metric_tables,
    output:
        markdown="reports/tables/main.md",
        latex="reports/tables/main.tex",
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
