"""Every run of a corpus -> a short label per topic, written by an LM from the topic's top words and
representative documents (labels.json: per run, the labeller and one label per topic in the model's
order). Each labelling LM is loaded once for all its runs, and asked only about prompts that the content
cache (topics.cache) does not hold yet."""

import json
import os

import pandas as pd

from softtopic.labels import ChatLabeller, LabelCache, LocalLabeller, label_prompt
from softtopic.output import ModelOutput
from softtopic.topics import one_line, summarise
from softtopic.workflow import script_logging


def topic_prompts(output: ModelOutput, documents: pd.DataFrame, settings: dict) -> list[str]:
    """One labelling prompt per topic: its top words and its representative documents, one line each."""
    topics = summarise(output, documents, None, settings["words"], settings["documents"])
    return [label_prompt(t.words, [one_line(documents["text"].iloc[r], settings["prompt_chars"]) for r in t.documents])
            for t in topics]


def make_labeller(settings: dict, rating: dict, manifest: str | None, lm_settings: dict, threads: int):
    """The labeller of topics.labeller: a local LM (its manifest and `lms` settings) or the rater's chat endpoint."""
    if settings["labeller"] == "chat":
        return ChatLabeller(rating["base_url"], rating["model"], os.environ.get(rating["api_key_env"], ""),
                            rating["retries"], settings["label_tokens"])
    import torch

    from softtopic.lm import load_lm, pick_device, resolve_dtype

    device = pick_device(lm_settings.get("device", "auto"))
    dtype = resolve_dtype(lm_settings.get("dtype", "auto"), device)

    def load():
        torch.set_num_threads(threads)
        return load_lm(manifest, dtype, device)

    return LocalLabeller(load, lm_settings["source"], dtype, settings["label_tokens"], settings["label_batch_size"])


def main(snakemake):
    log = script_logging(snakemake.log[0])
    settings, lm_of = snakemake.params.topics, snakemake.params.lm_of_run
    documents = pd.read_parquet(snakemake.input.documents)
    cache = LabelCache(settings["cache"])
    runs = list(lm_of)
    prompts = {run: topic_prompts(ModelOutput.load(path), documents, settings)
               for run, path in zip(runs, snakemake.input.models)}
    result = {}
    for lm in sorted(set(lm_of.values())):  # one labeller, so one LM load, per labelling LM
        mine = [run for run in runs if lm_of[run] == lm]
        labeller = make_labeller(settings, snakemake.params.rating, snakemake.params.manifests.get(lm),
                                 snakemake.params.lm_settings.get(lm, {}), snakemake.threads)
        labels = iter(labeller.label([p for run in mine for p in prompts[run]], cache))
        for run in mine:
            result[run] = {"labeller": labeller.identity, "labels": [next(labels) for _ in prompts[run]]}
            log.info("%s: %s", run, " | ".join(result[run]["labels"]))
    with open(snakemake.output.labels, "w") as handle:
        json.dump({run: result[run] for run in runs}, handle, indent=1)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
