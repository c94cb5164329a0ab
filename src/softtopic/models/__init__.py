"""Topic models behind one contract (`softtopic.models.base.TopicModel`), looked up by name."""

from softtopic.models.base import INPUTS, TopicData, TopicModel
from softtopic.models.bertopic_model import BERTopicModel
from softtopic.models.etm import ECRTM, ETM, DSLECRTM, DSLETM
from softtopic.models.fastopic import DSLFASTopic, FASTopic
from softtopic.models.kmeans import KMeansCombined, KMeansEmbeddings, KMeansHidden
from softtopic.models.lda import LDA
from softtopic.models.prodlda import CombinedTM, DSLProdLDA, ProdLDA, ZeroShotTM

MODELS: dict[str, type[TopicModel]] = {
    "dsl": DSLProdLDA,
    "prodlda": ProdLDA,
    "lda": LDA,
    "zeroshottm": ZeroShotTM,
    "combinedtm": CombinedTM,
    "bertopic": BERTopicModel,
    "etm": ETM,
    "ecrtm": ECRTM,
    "fastopic": FASTopic,
    "dsl-etm": DSLETM,
    "dsl-ecrtm": DSLECRTM,
    "dsl-fastopic": DSLFASTopic,
    # clustering reference rows (no training; config run.reference_rows)
    "kmeans-embeddings": KMeansEmbeddings,
    "kmeans-hidden": KMeansHidden,
    "kmeans-combined": KMeansCombined,
}

# Models that only read the LM's hidden states: trained at metrics.table_tau alone, whatever the grid's taus.
TAU_FREE = frozenset({"kmeans-hidden", "kmeans-combined"})


def make_model(name: str, **params) -> TopicModel:
    """A model by its config name (`MODELS`), built from its hyperparameters."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model '{name}'; known: {sorted(MODELS)}") from None
    return cls(**params)


__all__ = ["INPUTS", "MODELS", "TAU_FREE", "TopicData", "TopicModel", "make_model"]
