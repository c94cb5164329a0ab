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


# The expensive stage, as lms.<lm>.jobs jobs over whole batches of the corpus (one part file each).
# Temperature is not an input: a new tau costs no LM pass. Finished shards live in
# .../shards/<part>/ (not a declared output, so Snakemake keeps them when a run is killed).
# On a cluster each job asks for one GPU; where there is none: --set-resources lm_outputs:gpu=0.
rule lm_outputs:
    input:
        documents="results/{corpus}/corpus/documents.parquet",
        vocabulary="results/{corpus}/vocabulary/vocabulary.txt",
        manifest="resources/lm/{lm}/lm.json",
    output:
        part=temp("results/{corpus}/lm/{lm}/{prompt}/parts/{part}.npz"),
    log:
        "logs/{corpus}/lm/{lm}/{prompt}/{part}.log",
    benchmark:
        "benchmarks/{corpus}/lm/{lm}/{prompt}/{part}.tsv"
    conda:
        "../envs/lm.yaml"
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=240,
    params:
        instruction=prompt_instruction,
        lm=lm_settings,
        part=lm_part_number,
        shard_dir=lm_shard_dir,
        template=prompt_template,
    script:
        "../scripts/lm_outputs.py"


rule gather_lm_outputs:
    input:
        parts=lm_part_files,
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
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        shard_dir="results/{corpus}/lm/{lm}/{prompt}/shards",
    script:
        "../scripts/gather_lm_outputs.py"
