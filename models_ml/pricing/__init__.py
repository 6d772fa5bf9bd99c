"""Dynamic pricing: price elasticity per SKU from its promotional price variation (a pooled Poisson GLM with
seasonality), and the margin-maximising price inside guardrails. See models_ml/pricing/README.md."""

from models_ml.pricing.model import HIGHER_IS_BETTER, PRIMARY_METRIC, TrainedPricing, predict, train

__all__ = ["HIGHER_IS_BETTER", "PRIMARY_METRIC", "TrainedPricing", "predict", "train"]
