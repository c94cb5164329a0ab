# Coherence is scored in its own jobs: the reference corpus is tokenised and indexed once per
# (corpus vocabulary, reference corpus), and each run's topics are counted against that index.
# A MediaWiki dump as the reference is tokenised once, for every corpus (the rule exists only then).


if is_dump(config["metrics"]["coherence_reference"]):

    rule tokenise_wikipedia:
        input:
            dump=wikipedia_dump,
        output:
            tokens="results/wikipedia/tokens.txt.gz",
        log:
            "logs/wikipedia/tokens.log",
        benchmark:
            "benchmarks/wikipedia/tokens.tsv"
        conda:
            "../envs/metrics.yaml"
        threads: 4
        params:
            filter=config["vocabulary"]["filter"],
            min_word_length=config["vocabulary"]["min_word_length"],
        script:
            "../scripts/tokenise_wikipedia.py"


rule encode_reference:
    input:
        unpack(coherence_reference),
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
