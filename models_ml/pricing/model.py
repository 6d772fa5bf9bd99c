"""Dynamic pricing: each SKU's price elasticity from the price variation in its history (promotions, codes),
and the price that maximises its expected 30-day margin inside guardrails.

Backtest (no leakage): the demand-response model is fitted on the history up to ``as_of − holdout_days`` and
scored on the holdout's SKU-days by mean Poisson deviance, against the same model without the price term
(seasonality, trend and SKU levels only) — the price term must earn its place where prices moved. The
recommendation model is then refitted on everything up to ``as_of``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from models_ml.pricing.demand import DemandModel, Elasticity, fit_demand
from models_ml.pricing.glm import poisson_deviance
from models_ml.pricing.optimise import recommend_price
from models_ml.pricing.panel import Panel, build_panel

PRIMARY_METRIC = "poisson_deviance"
HIGHER_IS_BETTER = False

DEFAULTS: dict = {
    "channel": "online_store",
    "history_days": 730,  # of sales the model learns from
    "holdout_days": 365,  # backtest: the last this many days (at most half the history) are held out
    "horizon_days": 30,  # expected units and margin over this many days from as_of + 1
    "recent_days": 90,  # the SKU's level is recalibrated on its sales over this many days before as_of
    "max_change": 0.10,  # guardrail: at most ±10 % per recommendation
    "min_margin": 0.30,  # guardrail: (price − cost) ≥ 30 % of price
    "price_ending": None,  # e.g. 0.99: recommended prices end in .99 when one fits inside the guardrails
    "knot_days": 91,  # trend hinges
    "fourier_terms": 4,  # yearly seasonality
    "stockout_expected_units": 6.0,  # a zero run this improbable is a stockout, left out
    "min_between_sd": 0.05,  # floor of the between-SKU spread of elasticities in the pooling
    "promo_discount": 0.10,  # days with a channel discount rate at least this are "discounted days" in metrics
}

OUTPUT_SCHEMA = {
    "sku": pl.Utf8, "current_price": pl.Float64, "elasticity": pl.Float64, "elasticity_low": pl.Float64,
    "elasticity_high": pl.Float64, "recommended_price": pl.Float64, "change_pct": pl.Float64,
    "expected_units_30d_current": pl.Float64, "expected_units_30d_recommended": pl.Float64,
    "expected_margin_30d_current": pl.Float64, "expected_margin_30d_recommended": pl.Float64,
    "margin_impact_30d": pl.Float64, "guardrail": pl.Utf8, "unit_cost": pl.Float64,
}


@dataclass(frozen=True)
class TrainedPricing:
    """The fitted demand-response model (up to as_of) plus the params and backtest metrics."""

    model: DemandModel
    as_of: date
    params: dict
    metrics: dict[str, float] = field(default_factory=dict)


def _fit_params(p: dict) -> dict:
    return {k: p[k] for k in ("knot_days", "fourier_terms", "stockout_expected_units", "min_between_sd")}


def train(sales_daily: pl.DataFrame, products: pl.DataFrame, as_of: date, **params) -> TrainedPricing:
    p = {**DEFAULTS, **params}
    panel = build_panel(sales_daily, products, as_of, p["channel"], p["history_days"])
    n_days = len(panel.dates)
    if n_days < 60 or not panel.skus:
        raise ValueError(f"pricing needs at least 60 days of {p['channel']} sales before {as_of}; got {n_days}")
    metrics = backtest(panel, min(p["holdout_days"], n_days // 2), p)
    model = fit_demand(panel, n_days - 1, **_fit_params(p))
    metrics |= {
        "elasticity_channel": model.channel_elasticity.estimate,
        "elasticity_channel_low": model.channel_elasticity.low,
        "elasticity_channel_high": model.channel_elasticity.high,
        "elasticity_sku_median": float(np.median([e.estimate for e in model.elasticity.values()])),
        "n_skus": float(len(panel.skus)),
        "n_skus_own_estimate": float(sum(math.isfinite(e.raw) for e in model.elasticity.values())),
        "price_variation_sd": float(np.std(panel.log_price[panel.active])),
    }
    return TrainedPricing(model=model, as_of=as_of, params=p, metrics={k: float(v) for k, v in metrics.items()})


def backtest(panel: Panel, holdout_days: int, p: dict) -> dict[str, float]:
    """Mean Poisson deviance per SKU-day, MAE of the channel's daily units, and that MAE on discounted days
    (level-matched) on the held-out days, of the model and of its no-price baseline, both fitted before."""
    cut = len(panel.dates) - holdout_days - 1
    held = slice(cut + 1, len(panel.dates))
    dates = panel.dates[held]
    scores = {}
    promo = panel.discount_rate[held] >= p["promo_discount"]
    for name, use_price in (("", True), ("baseline_", False)):
        model = fit_demand(panel, cut, use_price=use_price, **_fit_params(p))
        ys, mus, daily_y, daily_mu = [], [], np.zeros(len(dates)), np.zeros(len(dates))
        for j, sku in enumerate(panel.skus):
            if sku not in model.sku_level or panel.units[: cut + 1, j].sum() == 0:
                continue  # launched in the holdout: nothing to score it against
            on = panel.active[held, j]
            mu = model.expected_units(sku, panel.category[j], dates, panel.log_price[held, j])
            ys.append(panel.units[held, j][on])
            mus.append(mu[on])
            daily_y += np.where(on, panel.units[held, j], 0)
            daily_mu += np.where(on, mu, 0)
        scores[f"{name}poisson_deviance"] = poisson_deviance(np.concatenate(ys), np.concatenate(mus))
        # level-matched: scaled to the actual units of the holdout's regular days, so that this judges the
        # response to price rather than a drift of the level (e.g. new SKUs taking share)
        level = daily_y[~promo].sum() / max(daily_mu[~promo].sum(), 1e-12)
        scores[f"{name}discounted_days_mae"] = (float(np.mean(np.abs(daily_y - level * daily_mu)[promo]))
                                                if promo.any() else float("nan"))
        scores[f"{name}daily_mae"] = float(np.mean(np.abs(daily_y - daily_mu)))
    scores["holdout_days"] = float(holdout_days)
    scores["holdout_discounted_days"] = float(promo.sum())
    return scores


def predict(trained: TrainedPricing, sales_daily: pl.DataFrame, products: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """One row per catalogue SKU with a price: its elasticity (95 % interval), recommended price and the
    expected 30-day units and margin at the current and the recommended price."""
    p, model = trained.params, trained.model
    panel = build_panel(sales_daily, products, as_of, p["channel"], p["history_days"])
    column = {s: j for j, s in enumerate(panel.skus)}
    horizon = [as_of + timedelta(days=i) for i in range(1, p["horizon_days"] + 1)]
    recent = slice(max(0, len(panel.dates) - p["recent_days"]), len(panel.dates))
    usual_discount = float(np.median(panel.discount_rate[recent])) if len(panel.dates) else 0.0
    rows = []
    for item in products.unique("sku", keep="first").sort("sku").iter_rows(named=True):
        sku, j = item["sku"], column.get(item["sku"])
        price = item["list_price"] if item["list_price"] is not None else (
            panel.regular_price[j] if j is not None else None)
        if price is None or not price > 0:
            continue
        cost = item["unit_cost"]
        elasticity = _elasticity_of(model, sku, item["category"])
        units = 0.0
        if j is not None and sku in model.sku_level and panel.units[recent, j].sum() > 0:
            units = _expected_units(model, panel, j, horizon, recent, price, usual_discount)
        if cost is None or units <= 0:
            recommended, guardrail = price, ("no_unit_cost" if cost is None else "no_recent_sales")
        else:
            rec = recommend_price(price, cost, elasticity.estimate, elasticity.high, max_change=p["max_change"],
                                  min_margin=p["min_margin"], price_ending=p["price_ending"])
            recommended, guardrail = rec.price, rec.guardrail
        units_new = units * (recommended / price) ** elasticity.estimate
        margin_now = (price - cost) * units if cost is not None else None
        margin_new = (recommended - cost) * units_new if cost is not None else None
        rows.append({
            "sku": sku, "current_price": round(price, 2), "elasticity": round(elasticity.estimate, 4),
            "elasticity_low": round(elasticity.low, 4), "elasticity_high": round(elasticity.high, 4),
            "recommended_price": round(recommended, 2),
            "change_pct": round((recommended / price - 1) * 100, 2),
            "expected_units_30d_current": round(units, 3), "expected_units_30d_recommended": round(units_new, 3),
            "expected_margin_30d_current": None if margin_now is None else round(margin_now, 2),
            "expected_margin_30d_recommended": None if margin_new is None else round(margin_new, 2),
            "margin_impact_30d": None if margin_now is None else round(margin_new - margin_now, 2),
            "guardrail": guardrail, "unit_cost": None if cost is None else round(cost, 2),
        })
    return pl.DataFrame(rows, schema=OUTPUT_SCHEMA)


def _elasticity_of(model: DemandModel, sku: str, category: str | None) -> Elasticity:
    if sku in model.elasticity:
        return model.elasticity[sku]
    return model.category_elasticity.get(category or "", model.channel_elasticity)


def _expected_units(model: DemandModel, panel: Panel, j: int, horizon: list[date], recent: slice, price: float,
                    usual_discount: float) -> float:
    """Σ expected units over the horizon at ``price`` and the usual discount level, scaled to the SKU's
    sales over the recent days (what the model expected there vs what sold, lightly shrunk to 1)."""
    sku, category = panel.skus[j], panel.category[j]
    on = panel.active[recent, j]
    fitted = model.expected_units(sku, category, panel.dates[recent], panel.log_price[recent, j])
    level = (panel.units[recent, j][on].sum() + 5.0) / (fitted[on].sum() + 5.0)
    x = math.log(price / panel.reference_price[j]) + math.log1p(-usual_discount)
    ahead = model.expected_units(sku, category, horizon, np.full(len(horizon), x))
    return float(ahead.sum() * level)
