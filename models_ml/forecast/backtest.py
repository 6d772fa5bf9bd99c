"""Scoring a forecast against what happened, on the observed (not stockout) days only: MAE, bias, interval
coverage and MASE against each series' in-sample seasonal-naive MAE (its scale), two ways:

* ``mase`` — pooled: Σ absolute errors ÷ Σ (scale × days scored), i.e. the series' MASEs weighted by their
  scale (≈ volume). The primary metric: stable, and not dominated by the slowest SKUs;
* ``mase_mean`` — the plain mean of the series' MASEs. On SKUs selling ~0.2 units a day MAE is lowest for a
  forecast of 0 (the median), so this one favours forecasts that under-predict slow sellers.
"""

from __future__ import annotations

import numpy as np

from models_ml.forecast.intervals import covered_fraction, strict_coverage


def score(actual: np.ndarray, observed: np.ndarray, mean: np.ndarray, scale: np.ndarray,
          bounds: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Metrics of a (S, H) forecast ``mean`` against ``actual`` where ``observed``; ``scale`` (S,) is the
    MASE denominator (NaN or 0: the series is left out of MASE)."""
    err = np.abs(mean - actual)
    n = observed.sum(axis=1)
    per_series = np.where(n > 0, (err * observed).sum(axis=1) / np.maximum(n, 1), np.nan)
    usable = (n > 0) & np.isfinite(scale) & (scale > 0)
    total = observed.sum()
    pooled = (err * observed).sum(axis=1)[usable].sum() / max((scale * n)[usable].sum(), 1e-12)
    out = {
        "mae": float((err * observed).sum() / max(total, 1)),
        "mase": float(pooled) if usable.any() else float("nan"),
        "mase_mean": float(np.mean(per_series[usable] / scale[usable])) if usable.any() else float("nan"),
        "bias": float((mean * observed).sum() / max((actual * observed).sum(), 1e-9)),
        "n_days": float(total),
    }
    if bounds is not None:
        for level in ("80", "95"):
            lo, hi = bounds[f"lower_{level}"], bounds[f"upper_{level}"]
            out[f"coverage_{level}"] = float(covered_fraction(actual, lo, hi)[observed].mean())
            out[f"strict_coverage_{level}"] = float(strict_coverage(actual, lo, hi)[observed].mean())
    return out
