"""The Insights edge: reading its parameters (``level``, ``fields``, ``time_range``, ``time_increment``,
``date_preset``) the way the Graph API does, aggregating the ad world's (date × ad) rows to the asked level and
time buckets, and rendering rows as Meta sends them (every number as text, ``actions`` / ``action_values`` as
lists of ``{"action_type", "value"}``, action types without any count left out).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from sandbox.meta_ads.world import AdWorld

LEVELS = {  # level → the id/name columns it groups by
    "account": (),
    "campaign": ("campaign_id", "campaign_name"),
    "adset": ("campaign_id", "campaign_name", "adset_id", "adset_name"),
    "ad": ("campaign_id", "campaign_name", "adset_id", "adset_name", "ad_id", "ad_name"),
}
PURCHASE_ACTION_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase")
FIELDS = ("account_currency", "account_id", "account_name", "campaign_id", "campaign_name", "adset_id", "adset_name",
          "ad_id", "ad_name", "objective", "impressions", "clicks", "spend", "cpm", "ctr", "cpc", "actions",
          "action_values", "date_start", "date_stop")
DEFAULT_FIELDS = ("impressions", "spend")
DATE_PRESETS = {"today": (0, 0), "yesterday": (1, 1), "last_3d": (3, 1), "last_7d": (7, 1), "last_14d": (14, 1),
                "last_28d": (28, 1), "last_30d": (30, 1), "last_90d": (90, 1)}  # (days back, days back) of the range
MAX_MONTHS_BACK = 37
MAX_LIMIT = 5000


class InsightsError(ValueError):
    """A parameter Meta would refuse: ``code`` and the message of its error body."""

    def __init__(self, message: str, code: int = 100) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class InsightsQuery:
    level: str
    fields: tuple[str, ...]
    since: date
    until: date
    increment: int | None  # days per row; None = all_days

    @classmethod
    def parse(cls, params: dict[str, str], today: date, default_level: str = "account") -> InsightsQuery:
        level = params.get("level", default_level)
        if level not in LEVELS:
            raise InsightsError(f"(#100) Param level must be one of {{{', '.join(LEVELS)}}}")
        fields = tuple(f.strip() for f in params.get("fields", ",".join(DEFAULT_FIELDS)).split(",") if f.strip())
        for name in fields:
            if name not in FIELDS:
                raise InsightsError(f"(#100) {name} is not valid for fields param. please check "
                                    "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ "
                                    "for all valid values")
        since, until = _range(params, today)
        increment_text = params.get("time_increment", "all_days")
        if increment_text == "all_days":
            increment = None
        elif increment_text.isdigit() and 1 <= int(increment_text) <= 90:
            increment = int(increment_text)
        else:
            raise InsightsError("(#100) Param time_increment must be a number between 1 and 90, or all_days")
        return cls(level, fields, since, until, increment)


def _range(params: dict[str, str], today: date) -> tuple[date, date]:
    if "time_range" in params:
        try:
            window = json.loads(params["time_range"])
            since, until = date.fromisoformat(window["since"]), date.fromisoformat(window["until"])
        except (ValueError, TypeError, KeyError):
            raise InsightsError("(#100) Param time_range must be a JSON object "
                                '{"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}') from None
    else:
        preset = params.get("date_preset", "last_30d")
        if preset not in DATE_PRESETS:
            raise InsightsError(f"(#100) Param date_preset must be one of {{{', '.join(DATE_PRESETS)}}}")
        back, forward = DATE_PRESETS[preset]
        since, until = today - timedelta(days=back), today - timedelta(days=forward if back else 0)
    if since > until:
        raise InsightsError("(#100) Param time_range is invalid: since must not be after until")
    if (today.year - since.year) * 12 + today.month - since.month > MAX_MONTHS_BACK:
        raise InsightsError("(#3018) The start date of the time range cannot be beyond 37 months from the current "
                            "date", code=3018)
    return since, until


def account_today(world: AdWorld, clock: datetime) -> date:
    """The account's current local date at the sandbox clock (ranges like last_30d count from it)."""
    return clock.astimezone(ZoneInfo(world.timezone)).date()


def query_rows(world: AdWorld, query: InsightsQuery, clock: datetime) -> list[dict[str, Any]]:
    """The rows the query returns at ``clock``, rendered as Meta sends them, in a stable order."""
    rows = world.insights(clock).filter(pl.col("date").is_between(query.since, query.until))
    if rows.height == 0:
        return []
    if query.increment is None:
        bucket = pl.lit(0)
    else:
        bucket = (pl.col("date") - pl.lit(query.since)).dt.total_days() // query.increment
    keys = LEVELS[query.level]
    grouped = (rows.with_columns(bucket=bucket)
               .group_by("bucket", *keys)
               .agg(pl.col("spend_cents").sum(), pl.col("impressions").sum(), pl.col("clicks").sum(),
                    pl.col("conversions").sum(), pl.col("conversion_value_cents").sum())
               .sort("bucket", *(k for k in keys if k.endswith("_id"))))
    objectives = dict(zip(world.campaigns["campaign_id"].to_list(), world.campaigns["objective"].to_list(),
                          strict=True))
    out = []
    for row in grouped.iter_rows(named=True):
        if query.increment is None:
            start, stop = query.since, query.until
        else:
            start = query.since + timedelta(days=row["bucket"] * query.increment)
            stop = min(query.until, start + timedelta(days=query.increment - 1))
        out.append(_render(world, query, row, start, stop, objectives.get(row.get("campaign_id"))))
    return out


def _render(world: AdWorld, query: InsightsQuery, row: dict[str, Any], start: date, stop: date,
            objective: str | None) -> dict[str, Any]:
    spend = Decimal(row["spend_cents"]).scaleb(-2)
    impressions, clicks = row["impressions"], row["clicks"]
    values: dict[str, Any] = {
        "account_currency": world.currency, "account_id": world.account_id,
        "account_name": world.options.account_name, "objective": objective,
        "impressions": str(impressions), "clicks": str(clicks), "spend": f"{spend:.2f}",
        "cpm": _ratio(spend * 1000, impressions), "ctr": _ratio(Decimal(clicks) * 100, impressions),
        "cpc": _ratio(spend, clicks),
    }
    values.update({k: row[k] for k in LEVELS[query.level]})
    actions, action_values = [], []
    if clicks:
        actions.append({"action_type": "link_click", "value": str(clicks)})
    if row["conversions"]:
        value = f"{Decimal(row['conversion_value_cents']).scaleb(-2):.2f}"
        for action_type in PURCHASE_ACTION_TYPES:
            actions.append({"action_type": action_type, "value": str(row["conversions"])})
            action_values.append({"action_type": action_type, "value": value})
    values["actions"], values["action_values"] = actions or None, action_values or None
    rendered = {}
    for name in query.fields:
        if name in ("date_start", "date_stop"):
            continue
        if name in LEVELS["ad"] and name not in LEVELS[query.level]:
            continue  # an id finer than the level is not part of the row
        if name == "objective" and query.level == "account":
            continue
        if values.get(name) is not None:
            rendered[name] = values[name]
    rendered["date_start"], rendered["date_stop"] = start.isoformat(), stop.isoformat()
    return rendered


def _ratio(numerator: Decimal, denominator: int) -> str | None:
    if not denominator:
        return None
    return str((numerator / denominator).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


# --- paging -------------------------------------------------------------------------------------------------

def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, offset = text.partition(":")
        if prefix != "cursor" or not offset.isdigit():
            raise ValueError
        return int(offset)
    except ValueError:
        raise InsightsError("(#100) The after cursor is invalid") from None


def page_limit(params: dict[str, str], default: int = 25) -> int:
    text = params.get("limit", str(default))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InsightsError(f"(#100) Param limit must be an integer between 1 and {MAX_LIMIT}")
    return int(text)


def page(rows: list[dict[str, Any]], params: dict[str, str], next_url: str) -> dict[str, Any]:
    """``{"data", "paging": {"cursors": {"before", "after"}, "next"?, "previous"?}}`` for ``limit`` / ``after``.
    ``next_url`` is the URL the next page is read from, without its ``after`` (added here)."""
    limit = page_limit(params)
    start = decode_cursor(params["after"]) if params.get("after") else 0
    data = rows[start:start + limit]
    body: dict[str, Any] = {"data": data}
    if data:
        end = start + len(data)
        paging: dict[str, Any] = {"cursors": {"before": encode_cursor(start), "after": encode_cursor(end)}}
        if end < len(rows):
            paging["next"] = f"{next_url}&after={encode_cursor(end)}"
        if start > 0:
            paging["previous"] = f"{next_url}&before={encode_cursor(start)}"
        body["paging"] = paging
    return body
