"""Vectorised, exact text rewrites the format adapters share (polars expressions over text columns).

Every rewrite turns a value the native format writes into the canonical text the layout validates
(``2025-01-14T10:22:31-05:00``, ``1234.56``) and leaves anything it cannot read **as it was**, so the layout's
own rule then quarantines the row showing the merchant's value. Numbers never pass through floats: they are
rewritten as text, or computed on exact integers / decimals.
"""

from __future__ import annotations

import polars as pl

DECIMAL = r"^-?\d+(\.\d+)?$"
MONEY = r"^-?\d+(\.\d{1,2})?$"
ISO_OUT = "%Y-%m-%dT%H:%M:%S%:z"


def blank_to_null(column: pl.Expr) -> pl.Expr:
    stripped = column.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def spaced_offset_to_iso(column: pl.Expr) -> pl.Expr:
    """``2025-01-14 10:22:31 -0500`` (Shopify's exports) → ``2025-01-14T10:22:31-05:00``; ISO text stays."""
    return column.str.replace(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?) ?([+-]\d{2}):?(\d{2})$",
                              "${1}T${2}${3}:${4}")


def formatted_to_iso(column: pl.Expr, fmt: str | None, timezone: str | None) -> pl.Expr:
    """Times written with ``fmt`` (strftime) → ISO text with an offset. Without ``fmt``, ISO 8601 is expected
    (``2010-12-01 08:26:00`` too). Times without an offset are read in ``timezone``; with no timezone they are
    left as they are, so the layout refuses them (a naive time is ambiguous)."""
    if fmt is None:
        if timezone is None:
            return column
        fmt, column_in = "%Y-%m-%dT%H:%M:%S", column.str.replace(" ", "T", literal=True)
    else:
        column_in = column
    has_offset = "%z" in fmt or "%:z" in fmt
    parsed = column_in.str.to_datetime(fmt, strict=False, time_zone="UTC" if has_offset else None)
    if not has_offset:
        if timezone is None:
            return column
        parsed = parsed.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return pl.when(parsed.is_null()).then(column).otherwise(parsed.dt.strftime(ISO_OUT))


def localised_number(column: pl.Expr, decimal: str = ".", thousands: str | None = None) -> pl.Expr:
    """``1.234,56`` (decimal ``,``, thousands ``.``) → ``1234.56``. Only well-formed values are rewritten:
    thousands groups of three, one decimal separator; anything else stays as written (and is refused)."""
    if decimal == "." and thousands is None:
        return column
    d, t = _re(decimal), _re(thousands) if thousands else None
    plain = rf"^-?\d+({d}\d+)?$"
    grouped = rf"^-?\d{{1,3}}({t}\d{{3}})+({d}\d+)?$" if t else None
    ok = column.str.contains(plain)
    if grouped:
        ok = ok | column.str.contains(grouped)
    rewritten = column.str.replace_all(thousands, "", literal=True) if thousands else column
    rewritten = rewritten.str.replace(decimal, ".", literal=True) if decimal != "." else rewritten
    return pl.when(ok).then(rewritten).otherwise(column)


def _re(separator: str) -> str:
    return "\\" + separator if separator in ".^$*+?()[]{}|\\" else separator


def float_id(column: pl.Expr) -> pl.Expr:
    """Ids a spreadsheet wrote as floats (``17850.0``) → ``17850``."""
    return column.str.replace(r"^(\d+)\.0+$", "${1}")


def magnitude(column: pl.Expr) -> pl.Expr:
    """A discount written with either sign (``-5.00`` or ``5.00``) → its size, ``5.00``."""
    return pl.when(column.str.contains(DECIMAL)).then(column.str.strip_chars_start("-")).otherwise(column)


def money_difference(minuend: pl.Expr, subtrahend: pl.Expr) -> pl.Expr:
    """Exact ``a − b`` of two money texts (empty = 0) as two-place text; the first unreadable one as written."""
    a_ok = minuend.is_null() | minuend.str.contains(MONEY)
    b_ok = subtrahend.is_null() | subtrahend.str.contains(MONEY)
    a = minuend.fill_null("0").cast(pl.Decimal(38, 2), strict=False)
    b = subtrahend.fill_null("0").cast(pl.Decimal(38, 2), strict=False)
    return (pl.when(a_ok & b_ok).then((a - b).cast(pl.Decimal(38, 2)).cast(pl.String))
            .when(~a_ok).then(minuend).otherwise(subtrahend))


def unit_price_of_total(total: pl.Expr, quantity: pl.Expr, places: int = 4) -> tuple[pl.Expr, pl.Expr]:
    """(unit price text, divides) for a line total and a quantity: total ÷ quantity to ``places`` decimals,
    computed on exact integers. Where the division is not exact at ``places`` (or an input is unreadable)
    the unit price is the total as written and ``divides`` is False (true where it cannot be judged)."""
    scale = 10 ** places
    readable = total.str.contains(rf"^\d+(\.\d{{1,{places}}})?$") & quantity.str.contains(r"^\+?\d+$")
    qty = quantity.str.strip_chars_start("+").cast(pl.Int64, strict=False)
    scaled = (total.cast(pl.Decimal(38, places), strict=False) * scale).cast(pl.Int128, strict=False)
    usable = readable & (qty > 0)
    exact = (scaled % qty) == 0
    unit = scaled // qty
    text = pl.format("{}.{}", (unit // scale).cast(pl.String), (unit % scale).cast(pl.String).str.zfill(places))
    divides = ~usable | exact
    return pl.when(usable & exact).then(text).otherwise(total), divides.fill_null(True)


def first_word(column: pl.Expr) -> pl.Expr:
    return column.str.extract(r"^\s*(\S+)")


def after_first_word(column: pl.Expr) -> pl.Expr:
    return blank_to_null(column.str.extract(r"^\s*\S+\s+(.+)$"))
