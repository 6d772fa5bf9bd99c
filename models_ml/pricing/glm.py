"""A small Poisson GLM (log link, offset, ridge) fitted by iteratively reweighted least squares, in numpy.

Enough for the demand-response models here: a few dozen columns over a few thousand days. The covariance is
the inverse Fisher information scaled by the Pearson dispersion (quasi-Poisson), so intervals stay honest when
units arrive in lumps (several units per order line).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PoissonFit:
    coef: np.ndarray
    cov: np.ndarray  # dispersion-scaled inverse Fisher information
    dispersion: float  # Pearson χ² / degrees of freedom, at least 1
    converged: bool

    def se(self, j: int) -> float:
        return float(np.sqrt(max(self.cov[j, j], 0.0)))


def fit_poisson(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None, ridge: np.ndarray | float = 0.0,
                max_iter: int = 60, tol: float = 1e-9) -> PoissonFit:
    """Maximise the Poisson log-likelihood of ``y`` given ``exp(X @ coef + offset)`` minus ½·ridge·‖coef‖²
    (``ridge`` per column or one number; put 0 on the intercept)."""
    n, k = X.shape
    offset = np.zeros(n) if offset is None else offset
    penalty = np.diag(np.broadcast_to(np.asarray(ridge, dtype=float), (k,)))
    coef = np.zeros(k)
    if np.allclose(X[:, 0], 1.0):  # start at the mean rate
        coef[0] = np.log(max(y.sum(), 0.5) / max(np.exp(offset).sum(), 1e-12))
    converged = False
    for _ in range(max_iter):
        eta = np.clip(X @ coef + offset, -30, 30)
        mu = np.exp(eta)
        gradient = X.T @ (y - mu) - penalty @ coef
        hessian = (X * mu[:, None]).T @ X + penalty
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        coef = coef + step
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    mu = np.exp(np.clip(X @ coef + offset, -30, 30))
    fisher = (X * mu[:, None]).T @ X + penalty
    dof = max(n - k, 1)
    dispersion = max(1.0, float(np.sum((y - mu) ** 2 / np.maximum(mu, 1e-12)) / dof))
    return PoissonFit(coef=coef, cov=np.linalg.pinv(fisher) * dispersion, dispersion=dispersion,
                      converged=converged)


def poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """Mean Poisson deviance, 2·[y·log(y/μ) − (y − μ)], per observation."""
    mu = np.maximum(mu, 1e-12)
    term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return float(np.mean(2.0 * (term - (y - mu))))
