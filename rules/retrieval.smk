# Retrieval P@k of each run's theta, and two reference rows per corpus (SPEC §5): BoW cosine, and the
# raw LM soft labels at tau = 1 ranked by KL.


rule score_retrieval:
    input:
        model="results/{corpus}/models/{run}/output.npz",
        documents="results/{corpus}/corpus/documents.parquet",
    output:
        retrieval="results/{corpus}/retrieval/{run}.json",
    log:
        "logs/{corpus}/retrieval/{run}.log",
    benchmark:
        "benchmarks/{corpus}/retrieval/{run}.tsv"
    wildcard_constraints:
        run=RUN_PATTERN,
    conda:
        "../envs/metrics.yaml"
    params:
        ks=config["metrics"]["retrieval_k"],
        sampling=config["metrics"]["retrieval_sampling"],
    script:
        "../scripts/score_retrieval.py"


rule retrieval_references:
    input:
        bow="results/{corpus}/vocabulary/bow.npz",
        documents="results/{corpus}/corpus/documents.parquet",
        logits="results/{corpus}/lm/{lm}/{prompt}/logits.npy",
    output:
        retrieval="results/{corpus}/retrieval/references/{lm}/{prompt}.json",
    log:
        "logs/{corpus}/retrieval/references/{lm}/{prompt}.log",
    benchmark:
        "benchmarks/{corpus}/retrieval/references/{lm}/{prompt}.tsv"
    conda:
        "../envs/metrics.yaml"
    params:
        ks=config["metrics"]["retrieval_k"],
        sampling=config["metrics"]["retrieval_sampling"],
    script:
        "../scripts/retrieval_references.py"


rule collect_retrieval_references:
    input:
        references=retrieval_reference_files,
    output:
        table=report(
            "reports/{corpus}/retrieval_references.csv",
            caption="../report/retrieval_references.rst",
            category="Metrics per run",
            labels={"corpus": "{corpus}", "table": "retrieval references"},
        ),
    log:
        "logs/{corpus}/collect_retrieval_references.log",
    benchmark:
        "benchmarks/{corpus}/collect_retrieval_references.tsv"
    conda:
        "../envs/metrics.yaml"
    script:
        "../scripts/collect_retrieval_references.py"
