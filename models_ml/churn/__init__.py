"""Churn: the calibrated probability that a customer places no order in the next N days (LightGBM on RFM and
behaviour features as of a cutoff). See models_ml/churn/README.md."""

from models_ml.churn.model import HIGHER_IS_BETTER, PRIMARY_METRIC, TrainedChurn, predict, train

__all__ = ["HIGHER_IS_BETTER", "PRIMARY_METRIC", "TrainedChurn", "predict", "train"]
