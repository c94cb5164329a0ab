# Trained runs applied to another corpus (config `apply`): each run's saved model gives the documents of
# the target corpus their theta, with the run's own vocabulary, encoder, LM, prompt and document window
# (softtopic.trained). `snakemake apply` builds every configured one; `snakemake` builds them too.


rule apply_run:
    input:
        unpack(applied_run_inputs),
    output:
        theta="results/{corpus}/applied/{source}/{run}/theta.parquet",
    log:
        "logs/{corpus}/applied/{source}/{run}.log",
    benchmark:
        "benchmarks/{corpus}/applied/{source}/{run}.tsv"
    wildcard_constraints:
        source=_alternatives(config["corpora"]),
        run=RUN_PATTERN,
    conda:
        "../envs/apply.yaml"
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        shard_dir="results/{corpus}/applied/{source}/{run}/lm-shards",
    script:
        "../scripts/apply_run.py"
