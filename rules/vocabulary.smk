rule build_vocabulary:
    input:
        documents="results/{corpus}/corpus/documents.parquet",
    output:
        vocabulary="results/{corpus}/vocabulary/vocabulary.txt",
        bow="results/{corpus}/vocabulary/bow.npz",
        texts="results/{corpus}/vocabulary/texts.txt",
    log:
        "logs/{corpus}/vocabulary.log",
    benchmark:
        "benchmarks/{corpus}/vocabulary.tsv"
    conda:
        "../envs/data.yaml"
    params:
        vocabulary=vocabulary_settings,
    script:
        "../scripts/build_vocabulary.py"
