"""One output.npz -> the LLM rating of its topics (mean and per topic) as JSON."""

import json
import os

from softtopic.metrics.rating import ChatRater, LocalRater
from softtopic.output import ModelOutput
from softtopic.workflow import script_logging


def make_rater(settings: dict, manifest: str | None, lm_settings: dict):
    if settings["rater"] == "local":
        from softtopic.lm import load_lm, pick_device

        model, tokenizer = load_lm(manifest, lm_settings.get("dtype", "auto"), pick_device(lm_settings.get("device", "auto")))
        return LocalRater(model, tokenizer)
    return ChatRater(
        base_url=settings["base_url"],
        model=settings["model"],
        api_key=os.environ.get(settings["api_key_env"], ""),
        cache=settings["cache"],
        retries=settings["retries"],
    )


def main(snakemake):
    log = script_logging(snakemake.log[0])
    settings = snakemake.params.rating
    manifest = snakemake.input.lm if settings["rater"] == "local" else None
    rater = make_rater(settings, manifest, snakemake.params.lm_settings)
    topics = ModelOutput.load(snakemake.input.model).top_words()
    result = rater.score(topics) | {"rater": settings["rater"], "topics": topics}
    with open(snakemake.output.rating, "w") as handle:
        json.dump(result, handle, indent=2)
    log.info("mean rating %s over %d topics", result["llm_rating"], len(topics))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
