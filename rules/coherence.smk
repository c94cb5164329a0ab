# Coherence is scored in its own jobs: the reference corpus is tokenised and indexed once per
# (corpus vocabulary, reference corpus), and each run's topics are counted against that index.


rule encode_reference:
    input:
        reference=reference_documents,
        vocabulary="results/{corpus}/vocabulary/vocabulary.txt",
    output:
        reference="results/{corpus}/coherence/reference.npz",
    log:
        "logs/{corpus}/coherence/reference.log",
    benchmark:
        "benchmarks/{corpus}/coherence/reference.tsv"
    conda:
        "../envs/metrics.yaml"
    params:
        filter=config["vocabulary"]["filter"],
        min_word_length=config["vocabulary"]["min_word_length"],
    script:
        "../scripts/encode_reference.py"


rule score_coherence:
    input:
        model="results/{corpus}/models/{run}/output.npz",
        reference="results/{corpus}/coherence/reference.npz",
    output:
        coherence="results/{corpus}/coherence/{run}.json",
    log:
        "logs/{corpus}/coherence/{run}.log",
    benchmark:
        "benchmarks/{corpus}/coherence/{run}.tsv"
    wildcard_constraints:
        run=RUN_PATTERN,
    conda:
        "../envs/metrics.yaml"
    params:
        measures=config["metrics"]["coherence_measures"],
    script:
        "../scripts/score_coherence.py"
