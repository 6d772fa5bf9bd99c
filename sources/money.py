"""The one money type and the one rounding rule of the platform.

Money amounts are exact decimals with two places (``MONEY``), unit prices keep four (``UNIT_PRICE``).
Rounding is *half away from zero* to the cent: Python's ``ROUND_HALF_UP`` on ``Decimal``, which is also
what ``round(numeric, 2)`` does in both DuckDB and PostgreSQL, so Python and SQL agree to the cent.
Floats never carry money: amounts arrive as strings (APIs, CSV) and go straight to ``Decimal``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pyarrow as pa

MONEY_PRECISION, MONEY_SCALE = 18, 2
UNIT_PRICE_SCALE = 4
MONEY = pa.decimal128(MONEY_PRECISION, MONEY_SCALE)
UNIT_PRICE = pa.decimal128(MONEY_PRECISION, UNIT_PRICE_SCALE)
CENT = Decimal("0.01")


class MoneyError(ValueError):
    """A value that cannot be read as money."""


def parse_decimal(value: str | int | Decimal | None, *, max_places: int = MONEY_SCALE) -> Decimal | None:
    """Read an exact decimal from text; refuse floats, junk and more than ``max_places`` decimals."""
    if value is None:
        return None
    if isinstance(value, float):
        raise MoneyError(f"float {value!r} refused for money: pass the decimal text")
    text = str(value).strip()
    if text == "":
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise MoneyError(f"{text!r} is not a decimal number") from exc
    if not amount.is_finite():
        raise MoneyError(f"{text!r} is not a finite number")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_places:
        raise MoneyError(f"{text!r} has more than {max_places} decimal places")
    return amount


def round_money(amount: Decimal) -> Decimal:
    """Round to the cent, half away from zero (the platform's one rounding rule)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def cents_to_decimal(cents: int) -> Decimal:
    """Integer cents (the sandbox's internal unit) to an exact two-place Decimal."""
    return Decimal(int(cents)).scaleb(-MONEY_SCALE)
