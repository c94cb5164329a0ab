# {text}: raw (the prepared documents' text, protocol fair) or filtered (their vocabulary words, the paper's).
rule embed_documents:
    input:
        unpack(encoder_texts),
    output:
        embeddings="results/{corpus}/embeddings/{encoder}/{text}/embeddings.npy",
    log:
        "logs/{corpus}/embeddings/{encoder}/{text}.log",
    benchmark:
        "benchmarks/{corpus}/embeddings/{encoder}/{text}.tsv"
    conda:
        "../envs/embeddings.yaml"
    params:
        batch_size=config["embeddings"]["batch_size"],
        device=config["embeddings"]["device"],
        encoder="{encoder}",
        text="{text}",
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


rule encode_words:
    input:
        vocabulary="results/{corpus}/vocabulary/vocabulary.txt",
    output:
        vectors="results/{corpus}/embeddings/{encoder}/words.npy",
    log:
        "logs/{corpus}/embeddings/{encoder}/words.log",
    benchmark:
        "benchmarks/{corpus}/embeddings/{encoder}/words.tsv"
    conda:
        "../envs/embeddings.yaml"
    params:
        batch_size=config["embeddings"]["batch_size"],
        device=config["embeddings"]["device"],
        encoder="{encoder}",
    script:
        "../scripts/encode_words.py"
