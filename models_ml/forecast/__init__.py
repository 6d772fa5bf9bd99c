"""Demand forecast (issue 5): SKU × channel × day units for the next 180 days with 80 % and 95 % intervals.
The interface is models_ml/forecast/model.py (``train``, ``predict``); the method is in README.md here."""

from models_ml.forecast.model import HIGHER_IS_BETTER, PRIMARY_METRIC, TrainedForecast, predict, train  # noqa: F401
