"""Cross-sell / up-sell: top-N products per customer from co-purchase and item similarity, blended, excluding
what was just bought; popularity for customers without a usable history. See models_ml/recommend/README.md."""

from models_ml.recommend.model import HIGHER_IS_BETTER, PRIMARY_METRIC, TrainedRecommender, predict, train

__all__ = ["HIGHER_IS_BETTER", "PRIMARY_METRIC", "TrainedRecommender", "predict", "train"]
