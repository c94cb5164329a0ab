# LLM rating of each run's topics (off unless metrics.rating.rater is 'local' or 'chat').


rule rate_topics:
    input:
        model="results/{corpus}/models/{run}/output.npz",
        lm=rating_lm_manifest,
    output:
        rating="results/{corpus}/rating/{run}.json",
    log:
        "logs/{corpus}/rating/{run}.log",
    benchmark:
        "benchmarks/{corpus}/rating/{run}.tsv"
    wildcard_constraints:
        run=RUN_PATTERN,
    conda:
        "../envs/lm.yaml"
    params:
        rating=config["metrics"]["rating"],
        lm_settings=rating_lm_settings,
    script:
        "../scripts/rate_topics.py"
