rule plot_temperature_sweep:
    input:
        tables=metric_tables,
    output:
        figure=report(
            "reports/temperature_sweep.pdf",
            caption="../report/temperature_sweep.rst",
            category="Temperature sweep",
        ),
    log:
        "logs/plots/temperature_sweep.log",
    benchmark:
        "benchmarks/plots/temperature_sweep.tsv"
    conda:
        "../envs/plots.yaml"
    script:
        "../scripts/plot_temperature_sweep.py"
