rule embed_documents:
    input:
        texts="results/{corpus}/vocabulary/texts.txt",
    output:
        embeddings="results/{corpus}/embeddings/{encoder}/embeddings.npy",
    log:
        "logs/{corpus}/embeddings/{encoder}.log",
    benchmark:
        "benchmarks/{corpus}/embeddings/{encoder}.tsv"
    conda:
        "../envs/embeddings.yaml"
    params:
        batch_size=config["embeddings"]["batch_size"],
        device=config["embeddings"]["device"],
        encoder="{encoder}",
    script:
        "../scripts/embed_documents.py"


rule train_word2vec:
    input:
        texts="results/{corpus}/vocabulary/texts.txt",
        vocabulary="results/{corpus}/vocabulary/vocabulary.txt",
    output:
        vectors="results/{corpus}/vocabulary/word2vec.npy",
    log:
        "logs/{corpus}/word2vec.log",
    benchmark:
        "benchmarks/{corpus}/word2vec.tsv"
    conda:
        "../envs/data.yaml"
    params:
        word2vec=config["word2vec"],
    script:
        "../scripts/train_word2vec.py"
