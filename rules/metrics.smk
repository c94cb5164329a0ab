rule evaluate_run:
    input:
        model="results/{corpus}/models/{run}/output.npz",
        documents="results/{corpus}/corpus/documents.parquet",
        coherence="results/{corpus}/coherence/{run}.json",
        retrieval="results/{corpus}/retrieval/{run}.json",
        rating=rating_file,
    output:
        metrics="results/{corpus}/metrics/{run}.json",
    log:
        "logs/{corpus}/metrics/{run}.log",
    benchmark:
        "benchmarks/{corpus}/metrics/{run}.tsv"
    wildcard_constraints:
        run=RUN_PATTERN,
    conda:
        "../envs/metrics.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        measures=config["metrics"]["coherence_measures"],
        protocol=config["protocol"],
    script:
        "../scripts/evaluate_run.py"


rule collect_metrics:
    input:
        runs=run_metric_files,
    output:
        table=report(
            "reports/{corpus}/metrics.csv",
            caption="../report/metrics.rst",
            category="Metrics per run",
            labels={"corpus": "{corpus}", "table": "metrics"},
        ),
    log:
        "logs/{corpus}/collect_metrics.log",
    benchmark:
        "benchmarks/{corpus}/collect_metrics.tsv"
    conda:
        "../envs/metrics.yaml"
    script:
        "../scripts/collect_metrics.py"
