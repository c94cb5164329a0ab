rule materialise_corpus:
    output:
        raw="data/raw/{corpus}.jsonl",
    log:
        "logs/data/raw/{corpus}.log",
    benchmark:
        "benchmarks/data/raw/{corpus}.tsv"
    wildcard_constraints:
        corpus=_alternatives(packaged_corpora()),
    conda:
        "../envs/data.yaml"
    params:
        source=packaged_source,
    script:
        "../scripts/materialise_corpus.py"


rule prepare_corpus:
    input:
        raw=raw_corpus,
    output:
        documents="results/{corpus}/corpus/documents.parquet",
        report="results/{corpus}/corpus/report.json",
    log:
        "logs/{corpus}/corpus.log",
    benchmark:
        "benchmarks/{corpus}/corpus.tsv"
    conda:
        "../envs/data.yaml"
    params:
        corpus=corpus_settings,
    script:
        "../scripts/prepare_corpus.py"
