rule train_dsl:
    input:
        bow="results/{corpus}/vocabulary/bow.npz",
        vocabulary="results/{corpus}/vocabulary/vocabulary.txt",
        logits="results/{corpus}/lm/{lm}/{prompt}/logits.npy",
        hidden="results/{corpus}/lm/{lm}/{prompt}/hidden.npy",
    output:
        model="results/{corpus}/models/dsl/{lm}/{prompt}/K{K}/tau{tau}/seed{seed}/output.npz",
    log:
        "logs/{corpus}/models/dsl/{lm}/{prompt}/K{K}/tau{tau}/seed{seed}.log",
    benchmark:
        "benchmarks/{corpus}/models/dsl/{lm}/{prompt}/K{K}/tau{tau}/seed{seed}.tsv"
    conda:
        "../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        model="dsl",
        hyperparameters=training_settings,
        top_words=config["metrics"]["top_words"],
    script:
        "../scripts/train_model.py"


rule train_baseline:
    input:
        bow="results/{corpus}/vocabulary/bow.npz",
        vocabulary="results/{corpus}/vocabulary/vocabulary.txt",
    output:
        model="results/{corpus}/models/{baseline}/K{K}/seed{seed}/output.npz",
    log:
        "logs/{corpus}/models/{baseline}/K{K}/seed{seed}.log",
    benchmark:
        "benchmarks/{corpus}/models/{baseline}/K{K}/seed{seed}.tsv"
    conda:
        "../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        model="{baseline}",
        hyperparameters=training_settings,
        top_words=config["metrics"]["top_words"],
    script:
        "../scripts/train_model.py"
