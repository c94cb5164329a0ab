# softtopic: raw corpus -> vocabulary -> LM soft labels -> topic models per tau/K -> metrics -> plots.
#
# Output layout ({corpus}, {lm}, {prompt} are config names; {K}, {tau}, {seed} numbers):
#   data/raw/{corpus}.jsonl                            raw corpus (tracked by data.dvc)
#   results/{corpus}/corpus/documents.parquet          prepared table: doc_id, text, label, source_row
#   results/{corpus}/corpus/report.json                malformed rows, empty texts, duplicates
#   results/{corpus}/vocabulary/vocabulary.txt         one word per line, most frequent first
#   results/{corpus}/vocabulary/bow.npz                documents x vocabulary counts (scipy CSR)
#   results/{corpus}/vocabulary/texts.txt              each document's vocabulary words, one line each
#   results/{corpus}/vocabulary/word2vec.npy           |V| x w word2vec vectors trained on the corpus
#   results/{corpus}/embeddings/{encoder}/embeddings.npy  documents x e sentence-encoder embeddings
#   resources/lm/{lm}/lm.json                          the LM, made loadable offline once
#   results/{corpus}/lm/{lm}/{prompt}/logits.npy       documents x |V| next-token logits (fp32, tau-free)
#   results/{corpus}/lm/{lm}/{prompt}/hidden.npy       documents x d last hidden state (fp32)
#   results/{corpus}/lm/{lm}/{prompt}/meta.json        throughput, shared sub-tokens, truncation
#   results/{corpus}/models/{model}/{lm}/{prompt}/K{K}/tau{tau}/seed{seed}/output.npz   dsl, dsl-*
#   results/{corpus}/models/{model}/K{K}/seed{seed}/output.npz   the models that need no LM
#     ({model} is a model or a config `variants` name: an ablation arm over the same DAG)
#   results/wikipedia/tokens.txt.gz                    a MediaWiki dump's articles, tokenised (when it is the reference)
#   results/{corpus}/coherence/reference.npz           reference tokens in the vocabulary, indexed by word
#   results/{corpus}/coherence/<run>.json              per-topic C_V/NPMI and topic words missing from it
#   results/{corpus}/retrieval/<run>.json              P@k of the run's theta (KL)
#   results/{corpus}/retrieval/references/{lm}/{prompt}.json  P@k of BoW cosine and LM soft labels
#   reports/{corpus}/retrieval_references.csv          those reference rows, one per LM
#   results/{corpus}/rating/<run>.json                 LLM rating of the run's topics (when metrics.rating is on)
#   results/{corpus}/models/<run>/model.safetensors, model.json, vocabulary.txt   the saved model beside output.npz
#   results/{corpus}/applied/{source}/<run>/theta.parquet   a {source} run applied to {corpus} (config `apply`)
#   results/{corpus}/metrics/<run>.json                metrics of one output.npz (<run>: path under models/)
#   reports/{corpus}/metrics.csv                       one row per run
#   reports/tables/main.md, main.tex                   the paper's main table (mean +- sd, Welch marks)
#   reports/tables/retrieval.md                        P@1/5/10 per method, with the reference rows
#   reports/temperature_sweep.pdf                      each metric against tau, mean +- sd over seeds
#   reports/ablations/{ablation}.csv, .md, .pdf        one config `ablations` entry: metrics per arm
#   reports/provenance/config.yaml, versions.txt       the resolved config and the package versions
#   reports/report.html                                snakemake --report: the above with captions (report/*.rst)
# logs/ and benchmarks/ mirror these paths.


from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/corpus.smk"
include: "rules/vocabulary.smk"
include: "rules/lm.smk"
include: "rules/embeddings.smk"
include: "rules/train.smk"
include: "rules/coherence.smk"
include: "rules/retrieval.smk"
include: "rules/rating.smk"
include: "rules/metrics.smk"
include: "rules/tables.smk"
include: "rules/plots.smk"
include: "rules/ablations.smk"
include: "rules/provenance.smk"
include: "rules/apply.smk"


# Rules that need the package registries or the hub, or are too small to submit to a cluster.
localrules:
    all,
    materialise_corpus,
    acquire_lm,
    collect_metrics,
    collect_retrieval_references,
    main_table,
    plot_temperature_sweep,
    ablation_report,
    record_provenance,
    apply,


rule all:
    default_target: True
    input:
        get_final_output(),


# `snakemake apply`: only the runs that config `apply` applies to other corpora.
rule apply:
    input:
        applied_outputs(),
