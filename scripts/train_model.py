"""BoW (+ LM outputs for DSL) -> one trained topic model -> output.npz (the model-output contract)."""

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from softtopic.corpus import check_size
from softtopic.models import TopicData, make_model
from softtopic.output import ModelOutput
from softtopic.workflow import run_identity, script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)
    torch.use_deterministic_algorithms(True)
    name = snakemake.params.model
    identity = run_identity(name, snakemake.wildcards.corpus, snakemake.wildcards)
    data = TopicData(
        bow=sp.load_npz(snakemake.input.bow).tocsr(),
        vocabulary=Path(snakemake.input.vocabulary).read_text().split(),
    )
    check_size(len(data.nonempty_documents()), identity["num_topics"], identity["corpus"],
               "documents with a vocabulary word")
    hyperparameters = dict(snakemake.params.hyperparameters)
    if name == "dsl":
        data.logits = np.load(snakemake.input.logits)
        data.hidden = np.load(snakemake.input.hidden)
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
    log.info("%s trained on %d documents; loss %.4g -> %.4g", identity, len(output.doc_index), history[0], history[-1])
    for number, words in enumerate(output.top_words()):
        log.info("topic %d: %s", number, " ".join(words))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
