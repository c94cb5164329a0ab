rule evaluate_run:
    input:
        model="results/{corpus}/models/{run}/output.npz",
        documents="results/{corpus}/corpus/documents.parquet",
        reference=reference_documents,
    output:
        metrics="results/{corpus}/metrics/{run}.json",
    log:
        "logs/{corpus}/metrics/{run}.log",
    benchmark:
        "benchmarks/{corpus}/metrics/{run}.tsv"
    wildcard_constraints:
        run=rf"({_alternatives(MODELS)})/.+",
    conda:
        "../envs/metrics.yaml"
    params:
        measures=config["metrics"]["coherence_measures"],
        min_word_length=config["vocabulary"]["min_word_length"],
    script:
        "../scripts/evaluate_run.py"


rule collect_metrics:
    input:
        runs=run_metric_files,
    output:
        table="reports/{corpus}/metrics.csv",
    log:
        "logs/{corpus}/collect_metrics.log",
    benchmark:
        "benchmarks/{corpus}/collect_metrics.tsv"
    conda:
        "../envs/metrics.yaml"
    script:
        "../scripts/collect_metrics.py"
