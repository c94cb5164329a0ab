# Readable topics: an LM names every run's topics (one job per corpus, so each labelling LM loads once),
# then a Markdown listing per run and one self-contained topic browser per corpus.


rule label_topics:
    input:
        models=run_model_files,
        documents="results/{corpus}/corpus/documents.parquet",
        manifests=labelling_manifest_files,
    output:
        labels="results/{corpus}/topics/labels.json",
    log:
        "logs/{corpus}/topics/labels.log",
    benchmark:
        "benchmarks/{corpus}/topics/labels.tsv"
    conda:
        "../envs/lm.yaml"
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        lm_of_run=labelled_runs,
        lm_settings=labelling_lm_settings,
        manifests=labelling_manifests,
        rating=config["metrics"]["rating"],
        topics=topic_settings(
            "cache",
            "documents",
            "label_batch_size",
            "label_tokens",
            "labeller",
            "prompt_chars",
            "words",
        ),
    script:
        "../scripts/label_topics.py"


rule topic_listing:
    input:
        unpack(topic_labels),
        model="results/{corpus}/models/{run}/output.npz",
        documents="results/{corpus}/corpus/documents.parquet",
        coherence="results/{corpus}/coherence/{run}.json",
    output:
        listing=report(
            "reports/{corpus}/topics/{run}.md",
            caption="../report/topic_listing.rst",
            category="Topics",
            subcategory="{corpus}",
            labels={"run": "{run}", "page": "topic listing"},
        ),
    log:
        "logs/{corpus}/topics/{run}.log",
    benchmark:
        "benchmarks/{corpus}/topics/{run}.tsv"
    wildcard_constraints:
        run=RUN_PATTERN,
    conda:
        "../envs/metrics.yaml"
    params:
        topics=topic_settings("documents", "words"),
    script:
        "../scripts/topic_listing.py"


rule topic_browser:
    input:
        unpack(topic_labels),
        models=run_model_files,
        coherence=run_coherence_files,
        documents="results/{corpus}/corpus/documents.parquet",
    output:
        browser=report(
            "reports/{corpus}/topic_browser.html",
            caption="../report/topic_browser.rst",
            category="Topics",
            subcategory="{corpus}",
            labels={"run": "all runs", "page": "topic browser"},
        ),
    log:
        "logs/{corpus}/topic_browser.log",
    benchmark:
        "benchmarks/{corpus}/topic_browser.tsv"
    conda:
        "../envs/metrics.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        runs=corpus_runs,
        topics=topic_settings(
            "browser_text_chars", "browser_theta_entries", "documents", "words"
        ),
    script:
        "../scripts/topic_browser.py"
