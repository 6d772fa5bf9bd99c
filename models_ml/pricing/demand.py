"""The demand-response model: log E[units] = SKU level + category seasonality + elasticity × log price.

Three levels, each a Poisson GLM (``glm.py``) with calendar features (``panel.calendar_features``):
the whole channel and every category get their own seasonality, trend and elasticity from their daily
totals; every SKU then gets its own level and elasticity on top of its category's seasonality (an offset).
Elasticities are pooled empirical-Bayes fashion: a category's estimate is shrunk towards the channel's and a
SKU's towards its category's, by precision, with the between-group variance estimated from the spread of the
estimates (DerSimonian–Laird). A SKU whose price never varied takes its category's elasticity outright.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from models_ml.pricing.glm import fit_poisson
from models_ml.pricing.panel import Panel, calendar_features, censor_stockouts

Z95 = 1.959964


@dataclass(frozen=True)
class Elasticity:
    estimate: float
    se: float
    raw: float  # before pooling (nan when not identified at this level)
    raw_se: float

    @property
    def low(self) -> float:
        return self.estimate - Z95 * self.se

    @property
    def high(self) -> float:
        return self.estimate + Z95 * self.se


@dataclass(frozen=True)
class DemandModel:
    """Everything needed to give expected units for any SKU of the panel on any day."""

    origin: date
    trend_until: date
    knot_days: int
    fourier_terms: int
    use_price: bool
    season_coef: dict[str, np.ndarray]  # category → calendar coefficients (price excluded)
    sku_level: dict[str, float]  # SKU → log level relative to its category's seasonal curve
    elasticity: dict[str, Elasticity]  # SKU → pooled elasticity
    category_elasticity: dict[str, Elasticity]
    channel_elasticity: Elasticity

    def features(self, dates: list[date]) -> np.ndarray:
        return calendar_features(dates, self.origin, self.trend_until, self.knot_days, self.fourier_terms)

    def expected_units(self, sku: str, category: str, dates: list[date], log_price: np.ndarray) -> np.ndarray:
        """Expected units a day of ``sku`` at the given log prices (relative to its reference price)."""
        season = self.features(dates) @ self.season_coef[category]
        beta = self.elasticity[sku].estimate if self.use_price else 0.0
        return np.exp(np.clip(self.sku_level[sku] + season + beta * log_price, -30, 30))


def fit_demand(panel: Panel, until: int, *, use_price: bool = True, knot_days: int = 91, fourier_terms: int = 4,
               ridge: float = 1e-3, stockout_expected_units: float = 6.0, min_between_sd: float = 0.05,
               min_sku_days: int = 28) -> DemandModel:
    """Fit on the panel's days ``0 … until`` (inclusive)."""
    days = slice(0, until + 1)
    dates = panel.dates[days]
    X = calendar_features(dates, panel.dates[0], panel.dates[until], knot_days, fourier_terms)
    units, price = panel.units[days], panel.log_price[days]
    active = panel.active[days] & (np.cumsum(units, axis=0) > 0)  # SKUs on sale from their first sale here
    categories = sorted(set(panel.category))
    members = {c: np.array([j for j, k in enumerate(panel.category) if k == c]) for c in categories}

    def group_fit(cols: np.ndarray, mask: np.ndarray):
        weight = units[:, cols].sum(axis=0) / np.maximum(mask[:, cols].sum(axis=0), 1)  # units per active day
        on_sale = (mask[:, cols] * weight).sum(axis=1)
        y = (units[:, cols] * mask[:, cols]).sum(axis=1)
        x = (price[:, cols] * mask[:, cols] * weight).sum(axis=1) / np.maximum(on_sale, 1e-12)
        ok = on_sale > 0
        design = np.column_stack([X, x]) if use_price else X
        penalty = np.r_[0.0, np.full(design.shape[1] - 1, ridge)]
        fit = fit_poisson(design[ok], y[ok], np.log(on_sale[ok]), penalty)
        return fit, ok

    # pass 1: category seasonality → likely stockouts → pass 2 on what is left
    for _ in range(2):
        season, price_fits = {}, {}
        for c in categories:
            fit, _ok = group_fit(members[c], active)
            k = X.shape[1]
            season[c] = fit.coef[:k]
            price_fits[c] = (fit.coef[k], fit.se(k)) if use_price else (0.0, np.inf)
        expected = np.zeros_like(units)
        for c in categories:
            cols = members[c]
            curve = np.exp(np.clip(X @ season[c], -30, 30))[:, None] * np.exp(price_fits[c][0] * price[:, cols])
            rate = (units[:, cols] * active[:, cols]).sum(axis=0) / np.maximum((curve * active[:, cols]).sum(axis=0),
                                                                                1e-12)
            expected[:, cols] = curve * rate
        active = censor_stockouts(units, expected, active, stockout_expected_units) & active

    all_cols = np.arange(len(panel.skus))
    channel_fit, _ = group_fit(all_cols, active)
    k = X.shape[1]
    channel_raw = (channel_fit.coef[k], channel_fit.se(k)) if use_price else (0.0, np.inf)
    channel = Elasticity(*channel_raw, *channel_raw)
    category_el = {c: _pooled(*price_fits[c], channel, _between_var([price_fits[g] for g in categories],
                                                                    min_between_sd)) for c in categories}

    levels, raw_sku = {}, {}
    for j, sku in enumerate(panel.skus):
        c = panel.category[j]
        on = active[:, j]
        offset = X[on] @ season[c]
        y, x = units[on, j], price[on, j]
        if on.sum() == 0:
            levels[sku] = np.log(1e-6)
            raw_sku[sku] = (np.nan, np.inf)
            continue
        identified = use_price and on.sum() >= min_sku_days and np.ptp(x) > 1e-3 and y.sum() >= 5
        if identified:
            fit = fit_poisson(np.column_stack([np.ones(on.sum()), x - x.mean()]), y, offset, np.array([0.0, 1e-6]))
            raw_sku[sku] = (fit.coef[1], fit.se(1))
        else:
            raw_sku[sku] = (np.nan, np.inf)
        levels[sku] = float(np.log(max(y.sum(), 0.5) / np.exp(offset + category_el[c].estimate * x
                                                                * use_price).sum()))
    sku_el = {}
    for c in categories:
        group = [raw_sku[panel.skus[j]] for j in members[c]]
        tau2 = _between_var([g for g in group if np.isfinite(g[1])], min_between_sd)
        for j in members[c]:
            sku = panel.skus[j]
            sku_el[sku] = _pooled(*raw_sku[sku], category_el[c], tau2)
    if use_price:  # refit each SKU's level at its pooled elasticity
        for j, sku in enumerate(panel.skus):
            on = active[:, j]
            if on.sum():
                offset = X[on] @ season[panel.category[j]] + sku_el[sku].estimate * price[on, j]
                levels[sku] = float(np.log(max(units[on, j].sum(), 0.5) / np.exp(offset).sum()))
    return DemandModel(origin=panel.dates[0], trend_until=panel.dates[until], knot_days=knot_days,
                       fourier_terms=fourier_terms, use_price=use_price, season_coef=season,
                       sku_level=levels, elasticity=sku_el, category_elasticity=category_el,
                       channel_elasticity=channel)


def _between_var(estimates: list[tuple[float, float]], min_sd: float) -> float:
    """DerSimonian–Laird between-group variance of estimates (value, se), floored at min_sd²."""
    finite = [(b, s) for b, s in estimates if np.isfinite(b) and np.isfinite(s) and s > 0]
    if len(finite) < 2:
        return min_sd ** 2
    b = np.array([f[0] for f in finite])
    w = 1 / np.array([f[1] for f in finite]) ** 2
    mean = np.sum(w * b) / w.sum()
    q = np.sum(w * (b - mean) ** 2)
    tau2 = (q - (len(b) - 1)) / max(w.sum() - np.sum(w ** 2) / w.sum(), 1e-12)
    return max(float(tau2), min_sd ** 2)


def _pooled(raw: float, raw_se: float, prior: Elasticity, tau2: float) -> Elasticity:
    """Precision-weighted mean of a group's own estimate and its parent's (prior variance τ² + parent se²)."""
    prior_var = tau2 + prior.se ** 2
    if not (np.isfinite(raw) and np.isfinite(raw_se) and raw_se > 0):
        return Elasticity(prior.estimate, float(np.sqrt(prior_var)), float("nan"), float("inf"))
    w_own, w_prior = 1 / raw_se ** 2, 1 / prior_var
    estimate = (w_own * raw + w_prior * prior.estimate) / (w_own + w_prior)
    return Elasticity(float(estimate), float(np.sqrt(1 / (w_own + w_prior))), float(raw), float(raw_se))
