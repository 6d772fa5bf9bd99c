"""Return likelihood: the probability that an order line is (partly) refunded within W days, scored at purchase
time (LightGBM on line, basket, customer and time-respecting return-rate features). See
models_ml/returns/README.md."""

from models_ml.returns.model import HIGHER_IS_BETTER, PRIMARY_METRIC, TrainedReturns, predict, train

__all__ = ["HIGHER_IS_BETTER", "PRIMARY_METRIC", "TrainedReturns", "predict", "train"]
