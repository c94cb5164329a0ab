"""BoW and whatever else the model requires (LM outputs, document embeddings, word vectors) -> one
trained topic model -> output.npz (the model-output contract)."""

import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from softtopic.corpus import check_size
from softtopic.models import MODELS, TopicData, make_model
from softtopic.output import ModelOutput
from softtopic.workflow import run_identity, script_logging


def load_topic_data(inputs, requires) -> TopicData:
    """Exactly the inputs that a model's `requires` names (the BoW and vocabulary always)."""
    data = TopicData(bow=sp.load_npz(inputs.bow).tocsr(), vocabulary=Path(inputs.vocabulary).read_text().split())
    if "lm" in requires:
        data.logits = np.load(inputs.logits)
        data.hidden = np.load(inputs.hidden)
    if "embeddings" in requires:
        data.embeddings = np.load(inputs.embeddings)
    if "word_vectors" in requires:
        data.word_vectors = np.load(inputs.word_vectors)
    return data


def main(snakemake):
    log = script_logging(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS on CUDA
    torch.use_deterministic_algorithms(True)
    name = snakemake.params.model
    identity = run_identity(name, snakemake.wildcards.corpus, snakemake.wildcards)
    requires = MODELS[name].requires
    data = load_topic_data(snakemake.input, requires)
    if "bow" in requires:
        check_size(len(data.nonempty_documents()), identity["num_topics"], identity["corpus"],
                   "documents with a vocabulary word")
    else:
        check_size(data.bow.shape[0], identity["num_topics"], identity["corpus"])
    hyperparameters = dict(snakemake.params.hyperparameters)
    if "lm" in requires:
        hyperparameters["tau"] = identity["tau"]
    model = make_model(name, num_topics=identity["num_topics"], **hyperparameters)
    history = model.fit(data, seed=identity["seed"])
    output = ModelOutput(
        theta=model.theta(),
        beta=model.beta(),
        doc_index=model.documents(),
        vocabulary=data.vocabulary,
        config={**identity, "hyperparameters": hyperparameters, "torch": torch.__version__},
        history=history,
        top_n=snakemake.params.top_words,
    )
    output.save(snakemake.output.model)
    left_out = data.bow.shape[0] - len(output.doc_index)
    log.info("%d of %d documents left out (empty BoW)", left_out, data.bow.shape[0])
    log.info("%s trained on %d documents; loss %.4g -> %.4g", identity, len(output.doc_index), history[0], history[-1])
    for number, words in enumerate(output.top_words()):
        log.info("topic %d: %s", number, " ".join(words))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
