"""Every model the platform trains, in one table: what it reads, what it writes, how it is judged.

Each model is a package with the same surface (``train``, ``predict``, ``PRIMARY_METRIC``, ``HIGHER_IS_BETTER``);
this catalogue says which frames of ``models_ml.frames.MlFrames`` it takes (in order), the prediction table it
fills (columns and warehouse types; ``tenant_id``, ``as_of_date``, ``model_version`` and ``run_id`` are added to
every table), and the bar its backtest must clear. The Dagster assets, ``make demo`` and the benchmarks all read
this table, so adding a model is one entry here plus its package.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

MONEY, PROB, UNITS, TEXT, INT, DATE, FLOAT = ("decimal(18,2)", "double precision", "double precision", "varchar",
                                              "bigint", "date", "double precision")


@dataclass(frozen=True)
class ModelSpec:
    name: str  # asset ml/<name>, registered model <tenant>__<name>, prediction table ml.<table>
    package: str  # the module with train / predict / PRIMARY_METRIC / HIGHER_IS_BETTER
    inputs: tuple[str, ...]  # MlFrames fields passed to train and predict, in this order
    table: str
    columns: dict[str, str]  # prediction columns -> warehouse type
    key: tuple[str, ...]  # the prediction table's grain (unique per tenant)
    description: str
    marts: tuple[str, ...]  # the marts it reads (its upstream assets)
    threshold: float | None = None  # an absolute bar beside "beats the baseline" (e.g. MASE < 1)
    params: dict = field(default_factory=dict)

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.package)

    @property
    def primary_metric(self) -> str:
        return self.module.PRIMARY_METRIC

    @property
    def higher_is_better(self) -> bool:
        return self.module.HIGHER_IS_BETTER


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="demand_forecast",
        package="models_ml.forecast",
        inputs=("sales_daily", "products"),
        table="demand_forecast",
        columns={"sku": TEXT, "channel": TEXT, "date": DATE, "horizon_day": INT, "units_mean": UNITS,
                 "lower_80": UNITS, "upper_80": UNITS, "lower_95": UNITS, "upper_95": UNITS, "model": TEXT},
        key=("sku", "channel", "date"),
        description="Daily units per SKU and channel for 180 days, with 80% and 95% intervals: a global LightGBM "
                    "model, Prophet where it helps, judged by a rolling-origin backtest against seasonal-naive.",
        marts=("fct_order_lines", "dim_products"),
        threshold=1.0,
    ),
    ModelSpec(
        name="churn",
        package="models_ml.churn",
        inputs=("orders", "customers", "order_lines"),
        table="churn_scores",
        columns={"customer_key": TEXT, "horizon_days": INT, "churn_probability": PROB, "risk_band": TEXT},
        key=("customer_key",),
        description="Calibrated probability that a customer places no order in the next 90 days (LightGBM on "
                    "RFM and behaviour), judged by AUC against a recency baseline.",
        marts=("fct_orders", "dim_customers", "fct_order_lines"),
    ),
    ModelSpec(
        name="return_likelihood",
        package="models_ml.returns",
        inputs=("order_lines",),
        table="return_scores",
        columns={"order_line_key": TEXT, "return_probability": PROB},
        key=("order_line_key",),
        description="Probability that an order line comes back, scored at purchase time for the lines still in "
                    "their return window, judged by AUC against the SKU's historical return rate.",
        marts=("fct_order_lines", "fct_orders", "fct_refunds"),
    ),
    ModelSpec(
        name="pricing",
        package="models_ml.pricing",
        inputs=("sales_daily", "products"),
        table="price_recommendations",
        columns={"sku": TEXT, "current_price": MONEY, "elasticity": FLOAT, "elasticity_low": FLOAT,
                 "elasticity_high": FLOAT, "recommended_price": MONEY, "change_pct": FLOAT,
                 "expected_units_30d_current": UNITS, "expected_units_30d_recommended": UNITS,
                 "expected_margin_30d_current": MONEY, "expected_margin_30d_recommended": MONEY,
                 "margin_impact_30d": MONEY, "guardrail": TEXT, "unit_cost": MONEY},
        key=("sku",),
        description="Price elasticity per product from the price variation in its history, and a recommended "
                    "price with its expected 30-day margin impact inside guardrails (minimum margin, maximum "
                    "change).",
        marts=("fct_order_lines", "dim_products"),
    ),
    ModelSpec(
        name="cross_sell",
        package="models_ml.recommend",
        inputs=("order_lines", "products"),
        table="product_recommendations",
        columns={"customer_key": TEXT, "rank": INT, "sku": TEXT, "score": FLOAT, "reason": TEXT},
        key=("customer_key", "rank"),
        description="Top products per customer from co-purchase and item similarity, excluding what was just "
                    "bought, judged by hit-rate on each customer's next order against popularity.",
        marts=("fct_order_lines", "dim_products"),
    ),
)


def model(name: str) -> ModelSpec:
    for spec in MODELS:
        if spec.name == name:
            return spec
    raise KeyError(f"no model named {name!r}: one of {', '.join(s.name for s in MODELS)}")
