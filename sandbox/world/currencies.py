"""The currencies a shop can trade or present prices in, with everything the world derives from them.

One table: what a unit is worth (the anchor of the synthetic daily exchange rates), the sales tax / VAT a
shop trading in it charges, its shipping terms, and the countries customers paying in it live in. The
twin's GraphQL schema lists the same codes in its ``CurrencyCode`` and ``CountryCode`` enums.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Currency:
    code: str
    usd: float  # value of one unit in USD: anchors exchange rates and scales catalogue prices
    tax_ppm: int  # the shop's tax on every discounted line, parts per million (88_750 = 8.875 %)
    tax_title: str
    shipping_cents: int  # flat online shipping fee …
    free_shipping_cents: int  # … for a discounted subtotal below this
    freight_cents: int  # flat freight per wholesale order
    countries: tuple[str, ...]  # where its customers live; the first one is home to most of them


CURRENCIES: dict[str, Currency] = {c.code: c for c in (
    Currency("USD", 1.00, 88_750, "NY State Sales Tax", 695, 7_500, 2_500, ("US",)),
    Currency("EUR", 1.08, 190_000, "DE MwSt", 495, 6_000, 2_200, ("DE", "AT", "NL", "FR")),
    Currency("GBP", 1.27, 200_000, "GB VAT", 395, 5_000, 1_900, ("GB",)),
    Currency("CAD", 0.73, 130_000, "ON HST", 995, 10_000, 3_200, ("CA",)),
    Currency("CHF", 1.13, 81_000, "CH MWST", 790, 8_000, 2_400, ("CH",)),
    Currency("AUD", 0.66, 100_000, "AU GST", 995, 11_000, 3_800, ("AU",)),
    Currency("NZD", 0.60, 150_000, "NZ GST", 1_095, 12_000, 4_200, ("NZ",)),
    Currency("SEK", 0.095, 250_000, "SE Moms", 4_900, 70_000, 25_000, ("SE",)),
    Currency("DKK", 0.145, 250_000, "DK Moms", 3_900, 45_000, 17_000, ("DK",)),
    Currency("NOK", 0.093, 250_000, "NO MVA", 5_900, 70_000, 26_000, ("NO",)),
    Currency("PLN", 0.25, 230_000, "PL VAT", 1_990, 25_000, 9_500, ("PL",)),
)}
HOME_COUNTRY_SHARE = 0.7  # of a currency's customers live in its first country


def currency(code: str) -> Currency:
    try:
        return CURRENCIES[code]
    except KeyError:
        raise ValueError(f"unsupported currency {code!r}; the sandbox knows {', '.join(CURRENCIES)}") from None


def country_weights(code: str) -> list[float]:
    """How a currency's customers spread over its countries (the first country is home to most)."""
    countries = currency(code).countries
    if len(countries) == 1:
        return [1.0]
    rest = (1 - HOME_COUNTRY_SHARE) / (len(countries) - 1)
    return [HOME_COUNTRY_SHARE] + [rest] * (len(countries) - 1)
