# One table and figure per configured ablation (`ablations`): the metric rows of its sub-grid, mean +- sd
# over seeds per arm.


rule ablation_report:
    input:
        runs=ablation_metric_files,
    output:
        table="reports/ablations/{ablation}.csv",
        markdown="reports/ablations/{ablation}.md",
        figure=report(
            "reports/ablations/{ablation}.pdf",
            caption="../report/ablation.rst",
            category="Ablations",
        ),
    log:
        "logs/ablations/{ablation}.log",
    benchmark:
        "benchmarks/ablations/{ablation}.tsv"
    conda:
        "../envs/plots.yaml"
    params:
        title=ablation_title,
    script:
        "../scripts/ablation_report.py"
