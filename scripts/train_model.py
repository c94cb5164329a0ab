"""BoW and whatever else the model requires (LM outputs, document embeddings, word vectors) -> one
trained topic model -> output.npz (the model-output contract), and the model saved portably beside it
(model.safetensors, model.json, vocabulary.txt: softtopic.savedmodel)."""

import json
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from softtopic.corpus import check_size
from softtopic.models import MODELS, TopicData, make_model
from softtopic.output import ModelOutput
from softtopic.savedmodel import save_model, text_sha256
from softtopic.workflow import hold_lock, run_identity, script_logging


def load_topic_data(inputs) -> TopicData:
    """The BoW and vocabulary, and whichever of logits, hidden states, document embeddings and word vectors
    the job's inputs name (what the model reads with its settings). The arrays are memory-mapped: a model
    reads the rows of each batch, so memory does not grow with documents x |V| (or x d)."""
    data = TopicData(bow=sp.load_npz(inputs.bow).tocsr(), vocabulary=Path(inputs.vocabulary).read_text().split())
    for field in ("logits", "hidden", "embeddings", "word_vectors"):
        path = getattr(inputs, field, None)
        if path:
            setattr(data, field, np.load(path, mmap_mode="r"))
    return data


def model_card(identity: dict, base: str, hyperparameters: dict, inference: dict, lm_meta: dict | None) -> dict:
    """What model.json records besides the arrays: the run, and how new documents' inputs are made
    (the token filter, the sentence encoder and the text it read, and for a run on LM hidden states, the LM
    stage's settings as it ran: `lm_meta` is its meta.json)."""
    import softtopic

    card = {**identity, "base_model": base, "hyperparameters": hyperparameters,
            "vocabulary": dict(inference.get("vocabulary", {})), "encoder": inference.get("encoder"),
            "encoder_text": inference.get("encoder_text"),
            "lm": None, "prompt": None, "versions": {"softtopic": softtopic.__version__, "torch": torch.__version__}}
    if lm_meta is not None:
        lm, prompt = inference["lm"], inference["prompt"]
        if lm_meta["instruction"] != prompt["instruction"]:
            raise ValueError(f"the LM outputs were made with instruction {lm_meta['instruction']!r}, "
                             f"prompt '{prompt['name']}' is {prompt['instruction']!r}")
        card["lm"] = {"name": lm["name"], "manifest": lm_meta["lm"], "dtype": lm_meta["dtype"],
                      "device": lm_meta["device"], "token_budget": lm_meta["token_budget"],
                      "max_document_tokens": lm_meta["max_document_tokens"], "batch_size": lm["batch_size"],
                      "projection": lm["projection"],
                      "chain_top_groups": lm["chain_top_groups"],
                      "projection_summary": {k: v for k, v in lm_meta["projection"].items() if k != "example_groups"}}
        card["prompt"] = {**prompt, "template_sha256": text_sha256(prompt["template"])}
    return card


def main(snakemake):
    log = script_logging(snakemake.log[0])
    # One writer per run directory: an orphaned job of a killed Snakemake may still be writing this output.
    lock_path = Path(f"{snakemake.output.model}.lock")
    lock = hold_lock(lock_path, f"{lock_path.parent} is being written by another training job (PID {{pid}}), e.g. one "
                     "left running by a killed Snakemake. Wait for it to end or stop it (`kill <PID>`), then rerun")
    torch.set_num_threads(snakemake.threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS on CUDA
    torch.use_deterministic_algorithms(True)
    name, base = snakemake.params.model, snakemake.params.base_model  # a variant's name and its model
    identity = run_identity(name, snakemake.wildcards.corpus, snakemake.wildcards)
    requires = MODELS[base].requires
    data = load_topic_data(snakemake.input)
    if "bow" in requires:
        check_size(len(data.nonempty_documents()), identity["num_topics"], identity["corpus"],
                   "documents with a vocabulary word")
    else:
        check_size(data.bow.shape[0], identity["num_topics"], identity["corpus"])
    hyperparameters = dict(snakemake.params.hyperparameters)
    if "lm" in requires:
        hyperparameters["tau"] = identity["tau"]
    model = make_model(base, num_topics=identity["num_topics"], **hyperparameters)
    history = model.fit(data, seed=identity["seed"])
    output = ModelOutput(
        theta=model.theta(),
        beta=model.beta(),
        doc_index=model.documents(),
        vocabulary=data.vocabulary,
        config={**identity, "base_model": base, "hyperparameters": hyperparameters, "torch": torch.__version__},
        history=history,
        top_n=snakemake.params.top_words,
    )
    output.save(snakemake.output.model)
    lm_meta = getattr(snakemake.input, "lm_meta", None)
    card = model_card(identity, base, hyperparameters, getattr(snakemake.params, "inference", {}),
                      json.loads(Path(lm_meta).read_text()) if lm_meta else None)
    save_model(Path(snakemake.output.model).parent, model, data.vocabulary, card)
    left_out = data.bow.shape[0] - len(output.doc_index)
    log.info("%d of %d documents left out (empty BoW)", left_out, data.bow.shape[0])
    log.info("%s trained on %d documents; loss %.4g -> %.4g", identity, len(output.doc_index), history[0], history[-1])
    for number, words in enumerate(output.top_words()):
        log.info("topic %d: %s", number, " ".join(words))
    lock_path.unlink(missing_ok=True)
    lock.close()


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
