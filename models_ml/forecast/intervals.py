"""Prediction intervals for daily unit counts: a negative binomial around the forecast mean, with the
variance ``φ·μ + α·μ²`` (φ: the overdispersion of multi-unit lines, α: the forecast's own relative error)
fitted per channel by maximum likelihood on the backtest's residuals.

Daily counts are small integers, so an interval with integer ends can rarely hold exactly 80 % or 95 %.
The bounds are *mid-quantiles*: quantiles of the count spread uniformly over [k − ½, k + ½] (a continuity
correction), so they move continuously with the mean; coverage is scored the same way (``covered_fraction``:
the share of that unit interval inside the bounds), which makes nominal coverage attainable. Where the
lower tail would fall below zero the interval is one-sided, [0, q(level)].
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

LEVELS = (0.80, 0.95)
GRID_POINTS = 240  # means per channel at which quantiles are computed exactly (then interpolated in log μ)
MAX_FIT_ROWS = 200_000
MAX_PHI, MAX_ALPHA = 200.0, 25.0  # bounds of the fit (lumpy wholesale counts push both up)


def _size(mu: np.ndarray, phi: float, alpha: float) -> np.ndarray:
    """Negative-binomial size r with mean μ and variance φμ + αμ² (∞ → Poisson)."""
    excess = (phi - 1.0) + alpha * mu
    return mu / np.maximum(excess, 1e-9)


def log_likelihood(y: np.ndarray, mu: np.ndarray, phi: float, alpha: float) -> float:
    mu = np.maximum(mu, 1e-6)
    r = _size(mu, phi, alpha)
    return float(stats.nbinom.logpmf(y, r, r / (r + mu)).sum())


def fit_dispersion(y: np.ndarray, mu: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """(φ ≥ 1, α ≥ 0) maximising the negative-binomial likelihood of counts ``y`` around means ``mu``."""
    y, mu = np.asarray(y, dtype=np.float64), np.asarray(mu, dtype=np.float64)
    if len(y) > MAX_FIT_ROWS:
        pick = np.random.default_rng(seed).choice(len(y), MAX_FIT_ROWS, replace=False)
        y, mu = y[pick], mu[pick]
    if len(y) == 0:
        return 1.5, 0.1

    def unpack(theta: np.ndarray) -> tuple[float, float]:
        return (1.0 + min(float(np.exp(theta[0])), MAX_PHI - 1.0), min(float(np.exp(theta[1])), MAX_ALPHA))

    def loss(theta: np.ndarray) -> float:
        return -log_likelihood(y, mu, *unpack(theta))

    best = optimize.minimize(loss, x0=np.array([np.log(0.5), np.log(0.05)]), method="Nelder-Mead",
                             options={"xatol": 1e-3, "fatol": 1e-3, "maxiter": 400})
    return unpack(best.x)


def mid_quantiles(mu: np.ndarray, phi: float, alpha: float, probs: np.ndarray) -> np.ndarray:
    """(len(mu), len(probs)) quantiles of Y + U(−½, ½), Y ~ NB(mean μ, variance φμ + αμ²): for the count k
    whose mass holds p, k − ½ + (p − F(k − 1)) / P(k)."""
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))[:, None]
    r = _size(mu, phi, alpha)
    q = r / (r + mu)
    p = np.asarray(probs, dtype=np.float64)[None, :]
    k = stats.nbinom.ppf(p, r, q)
    below = stats.nbinom.cdf(k - 1, r, q)
    mass = np.maximum(stats.nbinom.pmf(k, r, q), 1e-300)
    return k - 0.5 + np.clip((p - below) / mass, 0.0, 1.0)


def interval_bounds(mu: np.ndarray, phi: float, alpha: float,
                    levels: tuple[float, ...] = LEVELS) -> dict[str, np.ndarray]:
    """{lower_80, upper_80, lower_95, upper_95} for every mean in ``mu`` (≥ 0)."""
    mu = np.maximum(np.asarray(mu, dtype=np.float64), 1e-6)
    probs = np.array(sorted({p for lv in levels for p in ((1 - lv) / 2, (1 + lv) / 2, lv)}))
    lo, hi = np.log(mu.min()), np.log(mu.max())
    grid = np.exp(np.linspace(lo, hi, GRID_POINTS)) if hi > lo else np.array([mu.min()])
    table = mid_quantiles(grid, phi, alpha, probs)  # grid × probs
    out: dict[str, np.ndarray] = {}
    log_mu = np.log(mu)
    q = {p: (np.interp(log_mu, np.log(grid), table[:, j]) if len(grid) > 1 else np.full(len(mu), table[0, j]))
         for j, p in enumerate(probs)}
    for lv in levels:
        tag = f"{round(lv * 100)}"
        lower = q[(1 - lv) / 2]
        one_sided = lower <= 0
        out[f"lower_{tag}"] = np.where(one_sided, 0.0, lower)
        out[f"upper_{tag}"] = np.maximum(np.where(one_sided, q[lv], q[(1 + lv) / 2]), 0.0)
    return out


def covered_fraction(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Share of [y − ½, y + ½] inside [lower, upper] (a lower bound of 0 is no bound): the mid-quantile
    coverage of integer counts."""
    left = np.where(lower > 0, lower, -np.inf)
    return np.clip(np.minimum(upper, y + 0.5) - np.maximum(left, y - 0.5), 0.0, 1.0)


def strict_coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """1 where lower ≤ y ≤ upper (the usual, conservative-or-not count coverage), for reference."""
    return ((y >= lower) & (y <= upper)).astype(np.float64)
