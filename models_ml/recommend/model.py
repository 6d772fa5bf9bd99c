"""Cross-sell / up-sell: the top N products for each customer, from what customers who bought the same things
also bought (co-purchase) and from items like theirs (same category, close price), blended; never what the
customer just bought. Customers without a usable history get the popular items (reason 'popular').

Backtest (no leakage): everything is fitted on the lines up to ``as_of − holdout_days``; every customer who
bought before that cutoff and again after it is scored on their next order after the cutoff (the hidden
basket): hit-rate@N (at least one of its SKUs recommended), recall@N and NDCG@N, against popularity under the
same exclusions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from models_ml.recommend.similarity import (
    category_lift,
    co_purchase_similarity,
    decayed_purchases,
    fit_category_smoothing,
    price_closeness,
)

PRIMARY_METRIC = "hit_rate"
HIGHER_IS_BETTER = True

DEFAULTS: dict = {
    "channels": ("online_store",),  # whose customers get recommendations (marketplace buyers cannot be reached)
    "half_life_days": 180.0,  # purchase weights halve every this many days
    "co_purchase_weight": "auto",  # blend: co-purchase vs similar items (the rest); auto: tuned, see _tuned
    "shrinkage": 5.0,  # co-purchase P(i | j) = both ÷ (bought j + shrinkage)
    "category_smoothing": "auto",  # κ of the category lift (history before it departs from 1); auto: fitted
    "price_band": 1.0,  # price closeness falls by 1/e at a price ratio of 1 + price_band …
    "price_weight": "auto",  # … and weighs this much in the similar-items score (auto: tuned)
    "popularity_days": 90,  # popularity: distinct customers buying an item over this many days
    "candidate_days": 180,  # only items sold in this many days before as_of are recommended
    "exclude_days": 0,  # beside the last order, exclude everything bought in this many days (0: last order only)
    "holdout_days": 90,  # backtest: the hidden next orders fall in the last this many days
    "chunk_size": 4096,  # customers scored at a time
}
BLEND_GRID = (0.0, 0.1, 0.3, 0.5)  # co_purchase_weight candidates when "auto"
PRICE_GRID = (0.0, 0.1, 0.3)  # price_weight candidates when "auto"
FALLBACK = {"co_purchase_weight": 0.1, "price_weight": 0.1}  # "auto" with no repeat customers to tune on

OUTPUT_SCHEMA = {"customer_key": pl.Utf8, "rank": pl.Int64, "sku": pl.Utf8, "score": pl.Float64,
                 "reason": pl.Utf8}


@dataclass(frozen=True)
class TrainedRecommender:
    """Item statistics as of the training date, plus the params and backtest metrics."""

    items: list[str]
    co_purchase: np.ndarray  # items × items: P(row item | column item)
    item_category: np.ndarray  # per item: index into the categories (−1: none)
    category_share: np.ndarray  # per category: its share of the customers' lines
    category_smoothing: float  # κ of the category lift
    log_price: np.ndarray  # per item (nan: unknown)
    popularity: np.ndarray  # per item, in [0, 1]
    candidate: np.ndarray  # per item: recommendable
    as_of: date
    params: dict
    metrics: dict[str, float] = field(default_factory=dict)


def customer_lines(order_lines: pl.DataFrame, as_of: date, channels) -> pl.DataFrame:
    """The lines that count: not cancelled, with a customer, in the channels, up to as_of."""
    return order_lines.filter(~pl.col("is_cancelled").fill_null(False) & pl.col("customer_key").is_not_null()
                              & pl.col("channel").is_in(list(channels)) & (pl.col("order_date") <= as_of)
                              & (pl.col("quantity") > 0))


def fit(order_lines: pl.DataFrame, products: pl.DataFrame, as_of: date, p: dict) -> TrainedRecommender:
    """Item statistics from the lines up to as_of; "auto" weights tuned on those lines alone."""
    if "auto" in (p["co_purchase_weight"], p["price_weight"]):
        p = {**p, **_tuned(order_lines, products, as_of, p)}
    lines = customer_lines(order_lines, as_of, p["channels"])
    all_lines = order_lines.filter(~pl.col("is_cancelled").fill_null(False) & (pl.col("order_date") <= as_of))
    catalogue = products.unique("sku", keep="first").sort("sku")
    items = catalogue["sku"].to_list()
    purchases = decayed_purchases(lines, items, as_of, p["half_life_days"])
    recent = lines.filter(pl.col("order_date") > as_of - timedelta(days=p["popularity_days"]))
    buyers = recent.group_by("sku").agg(pl.col("customer_key").n_unique().alias("n"))
    count = dict(zip(buyers["sku"].to_list(), buyers["n"].to_list(), strict=True))
    popularity = np.array([count.get(s, 0) for s in items], dtype=float)
    popularity = popularity / max(popularity.max(), 1.0)
    sold = set(all_lines.filter(pl.col("order_date") > as_of - timedelta(days=p["candidate_days"]))["sku"].to_list())
    names = sorted({c for c in catalogue["category"].to_list() if c is not None})
    index = {c: k for k, c in enumerate(names)}
    item_category = np.array([index.get(c, -1) if c is not None else -1 for c in catalogue["category"].to_list()])
    per_item = np.asarray(purchases.matrix.sum(axis=0)).ravel()
    share = np.bincount(item_category[item_category >= 0], per_item[item_category >= 0], minlength=len(names))
    share = share / share.sum() if share.sum() > 0 else np.full(len(names), 1 / max(len(names), 1))
    price = catalogue["list_price"].cast(pl.Float64).to_numpy()
    kappa = p["category_smoothing"]
    if kappa == "auto":
        kappa = _fitted_smoothing(lines, items, item_category, share, as_of, p["half_life_days"])
    return TrainedRecommender(
        items=items,
        co_purchase=co_purchase_similarity(purchases, p["shrinkage"]).astype(np.float32),
        item_category=item_category,
        category_share=share,
        category_smoothing=float(kappa),
        log_price=np.where(np.isfinite(price) & (price > 0), np.log(np.where(price > 0, price, 1.0)), np.nan),
        popularity=popularity,
        candidate=np.array([s in sold for s in items]),
        as_of=as_of, params=p)


def _fitted_smoothing(lines: pl.DataFrame, items: list[str], item_category: np.ndarray, share: np.ndarray,
                      as_of: date, half_life_days: float) -> float:
    """κ fitted on the training lines alone: each repeat customer's last order against their earlier ones."""
    ordered = lines.sort("ordered_at", "order_key").with_columns(
        last=pl.col("order_key").last().over("customer_key"),
        orders=pl.col("order_key").n_unique().over("customer_key"))
    repeat = ordered.filter(pl.col("orders") > 1)
    if repeat.height == 0 or len(share) < 2:
        return 1000.0
    history = decayed_purchases(repeat.filter(pl.col("order_key") != pl.col("last")), items, as_of, half_life_days)
    target = decayed_purchases(repeat.filter(pl.col("order_key") == pl.col("last"))
                               .with_columns(order_date=pl.lit(as_of)), items, as_of, half_life_days)
    one_hot = np.zeros((len(items), len(share)))
    known = item_category >= 0
    one_hot[np.flatnonzero(known), item_category[known]] = 1.0
    h = np.log1p(history.matrix.toarray()) @ one_hot
    t = np.asarray((target.matrix > 0).astype(np.float64) @ one_hot)
    rows = {c: i for i, c in enumerate(target.customers)}
    aligned = np.zeros_like(t)
    for i, c in enumerate(history.customers):
        if c in rows:
            aligned[rows[c]] = h[i]
    return fit_category_smoothing(aligned, t, share)


def recommend(model: TrainedRecommender, order_lines: pl.DataFrame, as_of: date, top_n: int,
              popular_only: bool = False, customers: list[str] | None = None) -> pl.DataFrame:
    """The top-N table for every customer with lines up to as_of (or the given ones)."""
    p = model.params
    lines = customer_lines(order_lines, as_of, p["channels"])
    if customers is not None:
        lines = lines.filter(pl.col("customer_key").is_in(customers))
    purchases = decayed_purchases(lines, model.items, as_of, p["half_life_days"])
    excluded = _excluded(lines, purchases.customers, model.items, as_of, p["exclude_days"])
    out = []
    n_items = len(model.items)
    k = min(top_n, n_items)
    for lo in range(0, len(purchases.customers), p["chunk_size"]):
        hi = min(lo + p["chunk_size"], len(purchases.customers))
        profile = purchases.matrix[lo:hi].toarray().astype(np.float32)
        profile = np.log1p(profile)
        co = profile @ model.co_purchase.T  # Σ_j weight_j · P(i | j)
        lift = category_lift(profile, model.item_category, model.category_share, model.category_smoothing)
        item_lift = np.where(model.item_category[None, :] >= 0,
                             lift[:, np.maximum(model.item_category, 0)], 1.0)
        closeness = price_closeness(profile, model.log_price, p["price_band"])
        similar = model.popularity[None, :] * item_lift * (1 - p["price_weight"] + p["price_weight"] * closeness)
        co = co / np.maximum(co.max(axis=1, keepdims=True), 1e-12)
        similar = similar / np.maximum(similar.max(axis=1, keepdims=True), 1e-12)
        w = 0.0 if popular_only else p["co_purchase_weight"]
        personal = (w * co + (1 - w) * similar) if not popular_only else np.zeros_like(co)
        score = personal + 1e-3 * model.popularity[None, :]  # popularity breaks ties and fills the rest
        blocked = excluded[lo:hi].toarray() | ~model.candidate[None, :]
        score = np.where(blocked, -np.inf, score)
        top = np.argpartition(-score, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(score, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        rows = np.repeat(np.arange(hi - lo), k)
        cols = top.ravel()
        chosen = score[rows, cols]
        keep = np.isfinite(chosen)
        # 'popular': nothing about the customer lifts the item (no co-purchase, no category above average)
        is_personal = (co[rows, cols] > 0) | (item_lift[rows, cols] > 1.0 + 1e-6)
        reason = np.where(~is_personal | popular_only, "popular",
                          np.where(w * co[rows, cols] >= (1 - w) * similar[rows, cols], "co_purchase",
                                   "similar_items"))
        out.append(pl.DataFrame({
            "customer_key": np.array(purchases.customers[lo:hi], dtype=object)[rows][keep],
            "rank": np.tile(np.arange(1, k + 1), hi - lo)[keep],
            "sku": np.array(model.items, dtype=object)[cols][keep],
            "score": chosen[keep].astype(np.float64),
            "reason": reason[keep],
        }, schema=OUTPUT_SCHEMA))
    if not out:
        return pl.DataFrame(schema=OUTPUT_SCHEMA)
    table = pl.concat(out)
    # ranks stay 1..n per customer after dropping blocked slots
    return table.with_columns(rank=pl.col("rank").rank("ordinal").over("customer_key").cast(pl.Int64))


def _excluded(lines: pl.DataFrame, customers: list[str], items: list[str], as_of: date, exclude_days: int):
    """Customers × items: the SKUs of each customer's last order, and of everything in the last exclude_days."""
    from scipy import sparse

    last = (lines.sort("ordered_at", "order_key")
            .with_columns(last_order=pl.col("order_key").last().over("customer_key")))
    blocked = last.filter((pl.col("order_key") == pl.col("last_order"))
                          | (pl.col("order_date") > as_of - timedelta(days=exclude_days)))
    row = {c: i for i, c in enumerate(customers)}
    column = {s: j for j, s in enumerate(items)}
    pairs = [(row[c], column[s]) for c, s in zip(blocked["customer_key"].to_list(), blocked["sku"].to_list(),
                                                 strict=True) if c in row and s in column]
    r = np.array([a for a, _ in pairs], dtype=np.int64)
    c = np.array([b for _, b in pairs], dtype=np.int64)
    return sparse.csr_matrix((np.ones(len(pairs), dtype=bool), (r, c)), shape=(len(customers), len(items)))


def _next_orders(order_lines: pl.DataFrame, cutoff: date, as_of: date, channels) -> tuple[pl.DataFrame,
                                                                                          pl.DataFrame]:
    """(lines up to the cutoff, customer_key → target SKUs of their first order after it) for the customers
    who bought before the cutoff and again by as_of."""
    lines = customer_lines(order_lines, as_of, channels)
    before = lines.filter(pl.col("order_date") <= cutoff)
    after = lines.filter(pl.col("order_date") > cutoff)
    next_order = (after.sort("ordered_at", "order_key")
                  .with_columns(first=pl.col("order_key").first().over("customer_key"))
                  .filter(pl.col("order_key") == pl.col("first"))
                  .filter(pl.col("customer_key").is_in(before["customer_key"].unique().implode())))
    targets = (next_order.group_by("customer_key").agg(pl.col("sku").unique().sort().alias("target"))
               .sort("customer_key"))
    return before, targets


def _tuned(order_lines: pl.DataFrame, products: pl.DataFrame, as_of: date, p: dict) -> dict:
    """The "auto" weights: the grid point with the best hit-rate on the next orders of the last holdout_days
    before as_of, from statistics fitted before them (only lines up to as_of are read)."""
    cutoff = as_of - timedelta(days=p["holdout_days"])
    before, targets = _next_orders(order_lines, cutoff, as_of, p["channels"])
    if targets.height < 20:
        return {k: FALLBACK[k] if p[k] == "auto" else p[k] for k in FALLBACK}
    inner = fit(order_lines, products, cutoff, {**p, **FALLBACK})
    wanted = targets["customer_key"].to_list()
    best, best_hit = None, -1.0
    for w in BLEND_GRID if p["co_purchase_weight"] == "auto" else (p["co_purchase_weight"],):
        for pw in PRICE_GRID if p["price_weight"] == "auto" else (p["price_weight"],):
            trial = TrainedRecommender(**{**inner.__dict__,
                                          "params": {**inner.params, "co_purchase_weight": w, "price_weight": pw}})
            hit = _ranking_metrics(recommend(trial, before, cutoff, p["top_n"], customers=wanted), targets,
                                   p["top_n"])["hit_rate"]
            if hit > best_hit + 1e-9:
                best, best_hit = {"co_purchase_weight": w, "price_weight": pw}, hit
    return best


def backtest(order_lines: pl.DataFrame, products: pl.DataFrame, as_of: date, top_n: int, p: dict) -> dict:
    cutoff = as_of - timedelta(days=p["holdout_days"])
    before, targets = _next_orders(order_lines, cutoff, as_of, p["channels"])
    if targets.height == 0:
        return {"n_eval_customers": 0.0}
    model = fit(order_lines, products, cutoff, p)
    wanted = targets["customer_key"].to_list()
    scores = {}
    for name, popular in (("", False), ("baseline_", True)):
        recs = recommend(model, before, cutoff, top_n, popular_only=popular, customers=wanted)
        scores |= {f"{name}{k}": v for k, v in _ranking_metrics(recs, targets, top_n).items()}
    scores["n_eval_customers"] = float(targets.height)
    scores["category_smoothing"] = float(model.category_smoothing)
    scores["co_purchase_weight"] = float(model.params["co_purchase_weight"])
    scores["price_weight"] = float(model.params["price_weight"])
    scores["holdout_days"] = float(p["holdout_days"])
    return scores


def _ranking_metrics(recs: pl.DataFrame, targets: pl.DataFrame, top_n: int) -> dict[str, float]:
    joined = (targets.explode("target").rename({"target": "sku"})
              .join(recs.select("customer_key", "sku", "rank"), on=["customer_key", "sku"], how="left"))
    per_customer = joined.group_by("customer_key").agg(
        hit=pl.col("rank").is_not_null().any(),
        found=pl.col("rank").is_not_null().sum(),
        size=pl.len(),
        dcg=(1.0 / (pl.col("rank").cast(pl.Float64) + 1.0).log(2)).fill_null(0.0).sum()).sort("customer_key")
    ideal = per_customer["size"].to_numpy()
    idcg = np.array([np.sum(1.0 / np.log2(np.arange(2, min(n, top_n) + 2))) for n in ideal])
    return {"hit_rate": float(per_customer["hit"].mean()),
            "recall": float((per_customer["found"] / per_customer["size"]).mean()),
            "ndcg": float(np.mean(per_customer["dcg"].to_numpy() / idcg))}


def train(order_lines: pl.DataFrame, products: pl.DataFrame, as_of: date, top_n: int = 10,
          **params) -> TrainedRecommender:
    p = {**DEFAULTS, **params, "top_n": top_n}
    p["channels"] = tuple(p["channels"])
    metrics = backtest(order_lines, products, as_of, top_n, p)
    model = fit(order_lines, products, as_of, p)
    return TrainedRecommender(**{**model.__dict__, "metrics": metrics})


def predict(trained: TrainedRecommender, order_lines: pl.DataFrame, products: pl.DataFrame,
            as_of: date) -> pl.DataFrame:
    """customer_key, rank 1..N, sku, score, reason for every customer with a purchase up to as_of."""
    return recommend(trained, order_lines, as_of, trained.params["top_n"]).sort("customer_key", "rank")
