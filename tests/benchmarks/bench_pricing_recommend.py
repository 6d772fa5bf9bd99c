"""Pricing and cross-sell on the demo world, judged against the sandbox's truth, printed as a table.

Per shop of sandbox/worlds/demo.yaml: the channel elasticity the pricing model estimates (95 % interval) beside
the one the promotions imply (ln uplift / ln(1 − discount), least squares over the promotion days of the
history), the holdout deviance against the no-price baseline, the share of SKUs each guardrail bound, and the
recommender's hit-rate@10 on each customer's hidden next order against popularity; wall times and peak RSS.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_pricing_recommend.py
"""

from __future__ import annotations

import argparse
import math
import resource
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from models_ml import pricing, recommend
from sandbox.ml_frames import shop_frames
from sandbox.world import WorldSpec, build_world
from sandbox.world.calendar import promotions

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "sandbox" / "worlds" / "demo.yaml"


def implied_elasticity(first: date, last: date) -> float:
    x, y = [], []
    for promo in promotions(first, last):
        n = sum(first <= promo.start + timedelta(days=i) <= last for i in range(promo.days))
        x += [math.log(1 - promo.discount_bp / 10_000)] * n
        y += [math.log(promo.uplift)] * n
    x, y = np.array(x), np.array(y)
    return float(x @ y / (x @ x))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", default=str(DEMO))
    parser.add_argument("--top-n", type=int, default=10)
    args = parser.parse_args()
    spec = WorldSpec.load(args.world)
    started = time.perf_counter()
    world = build_world(spec)
    build_s = time.perf_counter() - started
    rows: list[tuple[str, ...]] = []
    for shop in spec.shops:
        frames = shop_frames(world.shop(shop.handle))
        as_of = frames.as_of
        t0 = time.perf_counter()
        trained = pricing.train(frames.sales_daily, frames.products, as_of)
        table = pricing.predict(trained, frames.sales_daily, frames.products, as_of)
        price_s = time.perf_counter() - t0
        m = trained.metrics
        truth = implied_elasticity(frames.sales_daily["date"].min(), as_of)
        guard = table["guardrail"].fill_null("interior optimum")
        t1 = time.perf_counter()
        recommender = recommend.train(frames.order_lines, frames.products, as_of, top_n=args.top_n)
        recs = recommend.predict(recommender, frames.order_lines, frames.products, as_of)
        rec_s = time.perf_counter() - t1
        r = recommender.metrics
        rows.append((
            shop.handle,
            f"{truth:.2f}",
            f"{m['elasticity_channel']:.2f} [{m['elasticity_channel_low']:.2f}, {m['elasticity_channel_high']:.2f}]",
            f"{m['elasticity_sku_median']:.2f}",
            f"{m['poisson_deviance']:.4f} / {m['baseline_poisson_deviance']:.4f}",
            f"{m['discounted_days_mae']:.1f} / {m['baseline_discounted_days_mae']:.1f}",
            f"{(guard.str.contains('max_decrease')).mean():.0%} / {(guard == 'interior optimum').mean():.0%}",
            f"{table['margin_impact_30d'].sum():,.0f}",
            f"{price_s:.1f}",
            f"{r['hit_rate']:.3f} / {r['baseline_hit_rate']:.3f}",
            f"{r['ndcg']:.3f} / {r['baseline_ndcg']:.3f}",
            f"{int(r['n_eval_customers'])}",
            f"{r['category_smoothing']:g} / {r['co_purchase_weight']:g} / {r['price_weight']:g}",
            f"{recs['customer_key'].n_unique():,}",
            f"{rec_s:.1f}",
        ))
    headers = ("shop", "implied β", "estimated β [95%]", "SKU median β", "deviance model / no-price",
               "promo-day MAE model / no-price", "SKUs at −10% / interior", "30d margin impact",
               "pricing s", f"hit@{args.top_n} model / popular", f"NDCG@{args.top_n} model / popular",
               "eval customers", "fitted κ / co-purchase w / price w", "customers scored", "recommend s")
    print(f"\nPricing and cross-sell on {Path(args.world).name} (world built in {build_s:.1f} s)")
    width = max(len(h) for h in headers) + 2
    print(f"{'metric':<{width}}" + "".join(f"{row[0]:>28}" for row in rows))
    print("-" * (width + 28 * len(rows)))
    for k, header in enumerate(headers[1:], start=1):
        print(f"{header:<{width}}" + "".join(f"{row[k]:>28}" for row in rows))
    print(f"{'peak RSS (MB)':<{width}}{peak_rss_mb():>28,.0f}")
    pl.Config.set_tbl_rows(0)


if __name__ == "__main__":
    main()
