"""What makes an item a good next purchase for a customer: co-purchase (items × items, "customers who bought j
also bought i" over time-decayed purchases), the customer's lift for the item's category, and how close the
item's price is to the prices the customer pays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from scipy import sparse


@dataclass(frozen=True)
class Purchases:
    """Customers × items of decayed purchase weights, with the index of both axes."""

    matrix: sparse.csr_matrix
    customers: list[str]
    items: list[str]


def decayed_purchases(lines: pl.DataFrame, items: list[str], as_of: date, half_life_days: float) -> Purchases:
    """Σ over a customer's lines of an item of 0.5^(age / half-life) — recent purchases weigh more. Every
    customer of ``lines`` has a row, also one whose items have all left the catalogue (an empty row)."""
    column = {s: j for j, s in enumerate(items)}
    known = lines.filter(pl.col("sku").is_in(items))
    customers = sorted(set(lines["customer_key"].to_list()))  # also those who bought nothing still listed
    row = {c: i for i, c in enumerate(customers)}
    age = np.array([(as_of - d).days for d in known["order_date"].to_list()], dtype=float)
    weight = np.power(0.5, age / half_life_days)
    matrix = sparse.coo_matrix((weight, ([row[c] for c in known["customer_key"].to_list()],
                                         [column[s] for s in known["sku"].to_list()])),
                               shape=(len(customers), len(items))).tocsr()
    matrix.sum_duplicates()
    return Purchases(matrix=matrix, customers=customers, items=items)


def co_purchase_similarity(purchases: Purchases, shrinkage: float) -> np.ndarray:
    """"Customers who bought j also bought i": items × items of P(i | j) = (customers who bought both) ÷
    (customers who bought j + shrinkage), column j the conditioning item. It keeps item i's popularity (what
    is likely to be bought, not only what is alike); the shrinkage keeps rarely bought items from looking
    certain."""
    binary = (purchases.matrix > 0).astype(np.float64)
    support = (binary.T @ binary).toarray()
    buyers = np.diag(support).copy()
    similarity = support / (buyers[None, :] + shrinkage)
    np.fill_diagonal(similarity, 0.0)
    return similarity


def category_lift(profile: np.ndarray, item_category: np.ndarray, category_share: np.ndarray,
                  smoothing: float) -> np.ndarray:
    """Customers × categories: how much more than the average customer each one buys from a category —
    (n_c + κ·q_c) / (N + κ) ÷ q_c, with n_c the customer's (decayed) lines in category c, q_c the category's
    share of all lines and κ the smoothing (a customer with little history stays near 1 everywhere)."""
    n_categories = len(category_share)
    one_hot = np.zeros((len(item_category), n_categories), dtype=np.float32)
    known = item_category >= 0
    one_hot[np.flatnonzero(known), item_category[known]] = 1.0
    counts = profile @ one_hot
    affinity = (counts + smoothing * category_share[None, :]) / (counts.sum(axis=1, keepdims=True) + smoothing)
    return affinity / np.maximum(category_share[None, :], 1e-12)


def price_closeness(profile: np.ndarray, log_price: np.ndarray, price_band: float) -> np.ndarray:
    """Customers × items: exp(−|ln p_item − the customer's usual ln price| / ln(1 + price_band)) — 1 at the
    prices they buy at (the customer's usual price: the profile-weighted mean); 1 everywhere without prices."""
    known = np.isfinite(log_price)
    weight = profile[:, known]
    usual = (weight @ log_price[known]) / np.maximum(weight.sum(axis=1), 1e-12)
    gap = np.abs(np.where(known, log_price, 0.0)[None, :] - usual[:, None])
    return np.where(known[None, :], np.exp(-gap / np.log1p(price_band)), 1.0).astype(np.float32)


SMOOTHING_GRID = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0)


def fit_category_smoothing(history: np.ndarray, target: np.ndarray, category_share: np.ndarray) -> float:
    """The κ of ``category_lift`` that best predicts the categories of each customer's last order from their
    history before it: argmax over a grid of Σ target_c · log((n_c + κ·q_c) / (N + κ)). ``history`` and
    ``target`` are customers × categories (profile weights and line counts). Where a customer's past says
    nothing about their next basket, κ comes out large and the lift stays near 1 (popularity)."""
    best, best_ll = SMOOTHING_GRID[-1], -np.inf
    total = history.sum(axis=1, keepdims=True)
    for kappa in SMOOTHING_GRID:
        p = (history + kappa * category_share[None, :]) / (total + kappa)
        ll = float(np.sum(target * np.log(np.maximum(p, 1e-12))))
        if ll > best_ll:
            best, best_ll = kappa, ll
    return best
