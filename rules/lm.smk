rule acquire_lm:
    output:
        manifest="resources/lm/{lm}/lm.json",
    log:
        "logs/lm/{lm}/acquire.log",
    benchmark:
        "benchmarks/lm/{lm}/acquire.tsv"
    conda:
        "../envs/lm.yaml"
    params:
        source=lm_source,
    script:
        "../scripts/acquire_lm.py"


# The expensive stage. Temperature is not an input: a new tau costs no LM pass. Finished shards
# live in .../shards/ (not a declared output, so Snakemake keeps them when a run is killed).
rule lm_outputs:
    input:
        documents="results/{corpus}/corpus/documents.parquet",
        vocabulary="results/{corpus}/vocabulary/vocabulary.txt",
        manifest="resources/lm/{lm}/lm.json",
    output:
        logits="results/{corpus}/lm/{lm}/{prompt}/logits.npy",
        hidden="results/{corpus}/lm/{lm}/{prompt}/hidden.npy",
        meta="results/{corpus}/lm/{lm}/{prompt}/meta.json",
    log:
        "logs/{corpus}/lm/{lm}/{prompt}.log",
    benchmark:
        "benchmarks/{corpus}/lm/{lm}/{prompt}.tsv"
    conda:
        "../envs/lm.yaml"
    threads: workflow.cores
    params:
        lm=lm_settings,
        instruction=prompt_instruction,
        shard_dir=lm_shard_dir,
    script:
        "../scripts/lm_outputs.py"
