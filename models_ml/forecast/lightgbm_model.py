"""ONE global LightGBM model over every series of a tenant (direct multi-horizon).

A training row is (series, origin, target day ≤ the training cut-off): the features known at the origin and
the target day's calendar (features.py), the target day's units as the label. Origins step back every
``origin_step`` days from the cut-off; the rows are sampled (deterministically) down to ``max_rows``. Days
inferred as stockouts are never labels (censored demand), and are left out of every level feature.
The objective is Poisson with the structural forecast as the offset (``init_score``, features.py): the trees
learn multiplicative corrections — day of week, promotions, trends — shared across series. Once the
cut-off knows last year's season, only origins that know it too are trained on (see ``first_origin``).
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from models_ml.forecast.features import CATEGORICAL, CATEGORY_WAVE_DAYS, FEATURES, MIN_LAST_YEAR_DAYS, FeatureContext

DEFAULT_PARAMS = {
    "objective": "poisson", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 200,
    "feature_fraction": 0.9, "lambda_l2": 1.0, "max_bin": 127, "num_threads": 2, "deterministic": True,
    "force_row_wise": True, "seed": 7, "verbose": -1,
}
NUM_ROUNDS = 300
MAX_ROWS = 600_000
ORIGIN_STEP = 7
MIN_HISTORY_DAYS = 28  # origins need this much panel history before them
MIN_LAST_YEAR_ORIGINS_DAYS = 28  # of origins that know last year's season, to train on them alone
DEFAULT_FEATURES = tuple(FEATURES)


@dataclass(frozen=True)
class LightGBMForecaster:
    booster_text: str  # the model as LightGBM text (picklable, exact)
    params: dict
    features: tuple[str, ...]  # the FEATURES columns the model uses

    def booster(self) -> lgb.Booster:
        return lgb.Booster(model_str=self.booster_text)


LAST_YEAR_ORIGIN = 364 + MIN_LAST_YEAR_DAYS + CATEGORY_WAVE_DAYS // 2  # first column whose offset knows last year


def knows_last_year(cutoff: int) -> bool:
    """Whether a model cut off at this column trains (and predicts) with last year's season in its offset."""
    return cutoff - LAST_YEAR_ORIGIN >= MIN_LAST_YEAR_ORIGINS_DAYS


def first_origin(cutoff: int) -> int:
    """The earliest training origin: once the forecast origin (the cut-off) knows last year's season, only
    origins that know it too (the offset must be of the same kind in training and in prediction)."""
    return LAST_YEAR_ORIGIN if knows_last_year(cutoff) else MIN_HISTORY_DAYS


def training_rows(ctx: FeatureContext, cutoff: int, horizon: int, max_rows: int, origin_step: int,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(series, origin, target) index arrays of observed targets ≤ ``cutoff``, sampled evenly over the
    candidate (series, origin, horizon) triples."""
    panel = ctx.panel
    origins = np.arange(cutoff - 1, first_origin(cutoff) - 1, -origin_step)
    first = panel.first_day
    per_origin = []
    for o in origins:
        live = np.flatnonzero(first <= o)
        h_max = min(horizon, cutoff - o)
        per_origin.append((o, live, h_max))
    total = sum(len(live) * h for _, live, h in per_origin)
    keep = min(1.0, max_rows / max(total, 1))
    rng = np.random.default_rng(seed)
    s_all, o_all, t_all = [], [], []
    for o, live, h_max in per_origin:
        n = len(live) * h_max
        if n == 0:
            continue
        k = n if keep >= 1.0 else int(round(n * keep))
        pick = np.arange(n) if k == n else np.sort(rng.choice(n, size=k, replace=False))
        s = live[pick // h_max]
        t = o + 1 + pick % h_max
        s_all.append(s)
        o_all.append(np.full(len(s), o))
        t_all.append(t)
    if not s_all:
        raise ValueError("not enough history to train the forecast model")
    s, o, t = (np.concatenate(a) for a in (s_all, o_all, t_all))
    ok = panel.observed[s, t]
    return s[ok], o[ok], t[ok]


def fit(ctx: FeatureContext, cutoff: int, horizon: int, *, max_rows: int = MAX_ROWS, origin_step: int = ORIGIN_STEP,
        num_rounds: int = NUM_ROUNDS, seed: int = 7, features: tuple[str, ...] = DEFAULT_FEATURES,
        **overrides) -> LightGBMForecaster:
    """Train on every target day up to ``cutoff`` (a panel column)."""
    s, o, t = training_rows(ctx, cutoff, horizon, max_rows, origin_step, seed)
    x, offset = ctx.rows(s, o, t)
    columns = [FEATURES.index(f) for f in features]
    x = np.ascontiguousarray(x[:, columns])
    y = ctx.panel.units[s, t]
    params = {**DEFAULT_PARAMS, "seed": seed, **overrides}
    data = lgb.Dataset(x, label=y, init_score=offset, feature_name=list(features),
                       categorical_feature=[c for c in CATEGORICAL if c in features],
                       free_raw_data=True, params={"max_bin": params["max_bin"], "verbose": -1})
    booster = lgb.train(params, data, num_boost_round=num_rounds)
    return LightGBMForecaster(booster_text=booster.model_to_string(), features=tuple(features),
                              params={**params, "num_rounds": num_rounds, "max_rows": max_rows,
                                      "origin_step": origin_step, "training_rows": int(len(y))})


def predict(model: LightGBMForecaster, ctx: FeatureContext, origin: int, horizon: int,
            series: np.ndarray | None = None, chunk_rows: int = 1_000_000) -> np.ndarray:
    """(S, horizon) expected units for days origin+1 … origin+horizon of every series (or ``series``)."""
    booster = model.booster()
    series = np.arange(ctx.panel.n_series) if series is None else np.asarray(series)
    out = np.empty((len(series), horizon))
    per_chunk = max(1, chunk_rows // horizon)
    for lo in range(0, len(series), per_chunk):
        block = series[lo:lo + per_chunk]
        s = np.repeat(block, horizon)
        t = np.tile(origin + 1 + np.arange(horizon), len(block))
        x, offset = ctx.rows(s, np.full(len(s), origin), t)
        x = np.ascontiguousarray(x[:, [FEATURES.index(f) for f in model.features]])
        raw = booster.predict(x, raw_score=True, num_threads=model.params.get("num_threads", 2))
        out[lo:lo + len(block)] = np.exp(raw + offset).reshape(len(block), horizon)
    return out
