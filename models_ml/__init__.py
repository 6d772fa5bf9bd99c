"""Plain-Python ML for OmniAnalytics (no Dagster imports): demand forecast, churn, return likelihood, pricing and
cross-sell, each trained per tenant and tracked in MLflow. See models_ml/README.md."""

import os

# OpenMP threads that spin while waiting make LightGBM ~20× slower on a machine whose cores are busy with other
# work; passive waiting costs nothing when they are free. Set before any model package loads LightGBM.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
