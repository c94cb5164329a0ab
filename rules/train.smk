# Models that read the LM stage (dsl, dsl-*, and variants of them) are trained per LM, prompt and tau;
# the others once per corpus, K and seed. What each reads follows its class and settings (model_inputs).
# Beside output.npz each saves its model portably (model.safetensors, model.json, vocabulary.txt), which
# the apply rule and softtopic.load_run read.


rule train_dsl:
    input:
        unpack(model_inputs),
    output:
        model="results/{corpus}/models/{model}/{lm}/{prompt}/K{K}/tau{tau}/seed{seed}/output.npz",
        weights="results/{corpus}/models/{model}/{lm}/{prompt}/K{K}/tau{tau}/seed{seed}/model.safetensors",
        card="results/{corpus}/models/{model}/{lm}/{prompt}/K{K}/tau{tau}/seed{seed}/model.json",
        vocabulary="results/{corpus}/models/{model}/{lm}/{prompt}/K{K}/tau{tau}/seed{seed}/vocabulary.txt",
    log:
        "logs/{corpus}/models/{model}/{lm}/{prompt}/K{K}/tau{tau}/seed{seed}.log",
    benchmark:
        "benchmarks/{corpus}/models/{model}/{lm}/{prompt}/K{K}/tau{tau}/seed{seed}.tsv"
    wildcard_constraints:
        model=_alternatives(LM_MODELS),
    conda:
        "../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        base_model=training_base_model,
        hyperparameters=training_settings,
        inference=inference_settings,
        model="{model}",
        top_words=config["metrics"]["top_words"],
    script:
        "../scripts/train_model.py"


rule train_baseline:
    input:
        unpack(model_inputs),
    output:
        model="results/{corpus}/models/{model}/K{K}/seed{seed}/output.npz",
        weights="results/{corpus}/models/{model}/K{K}/seed{seed}/model.safetensors",
        card="results/{corpus}/models/{model}/K{K}/seed{seed}/model.json",
        vocabulary="results/{corpus}/models/{model}/K{K}/seed{seed}/vocabulary.txt",
    log:
        "logs/{corpus}/models/{model}/K{K}/seed{seed}.log",
    benchmark:
        "benchmarks/{corpus}/models/{model}/K{K}/seed{seed}.tsv"
    wildcard_constraints:
        model=_alternatives(BOW_MODELS),
    conda:
        "../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        base_model=training_base_model,
        hyperparameters=training_settings,
        inference=inference_settings,
        model="{model}",
        top_words=config["metrics"]["top_words"],
    script:
        "../scripts/train_model.py"
