"""A shop's ERP database: the wholesale channel of the sandbox world as tables of a real MySQL/MariaDB or
PostgreSQL server, for the ``sql_database`` source to read (sources/sql_database).

Three tables, as a merchant's ERP keeps its trade business:

* ``erp_customers``   — the wholesale accounts (the world's customers with acquisition channel ``wholesale``);
* ``erp_orders``      — the world's orders of channel ``wholesale``, with a ``status`` (``invoiced``, or
  ``cancelled`` after ``cancel_orders``);
* ``erp_order_lines`` — their lines (``line_number`` 1.. within each order).

Money is ``DECIMAL(12,2)`` in the shop currency, built exactly from the world's integer cents; timestamps are
UTC (``DATETIME(6)`` holding UTC on MySQL, ``TIMESTAMPTZ`` on PostgreSQL); every row has an ``updated_at``
(the world's: an order's is its creation, an account's its latest order), which is what an incremental
reader follows.

* ``seed(url, shop, as_of=None)`` creates the database if missing and (re)creates the tables holding exactly
  the world as seen at ``as_of``: seeding twice gives the same rows.
* ``advance(url, shop, as_of)`` is the ERP catching up with the world: inserts what was created by
  ``as_of`` and is not there yet, and updates the rows whose world ``updated_at`` moved on (accounts).
* ``update_rows`` / ``cancel_orders`` edit rows the way a clerk does, bumping ``updated_at``.

Command line::

    python -m sandbox.databases seed --world sandbox/worlds/demo.yaml --shop northwind \\
        --url mysql+pymysql://root@127.0.0.1:3306/northwind_erp [--as-of 2025-06-01T00:00:00Z]
    python -m sandbox.databases advance --world ... --shop ... --url ... --as-of 2025-07-01T00:00:00Z
    python -m sandbox.databases cancel --url ... --order-id 9100000003 [--at 2025-07-02T10:00:00Z]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from sandbox.world import ShopWorld, WorldSpec, build_world

DRIVERS = {"mysql": "mysql+pymysql", "mariadb": "mysql+pymysql", "postgresql": "postgresql+psycopg2",
           "postgres": "postgresql+psycopg2"}
MONEY = sa.Numeric(12, 2)
UTC_TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

METADATA = sa.MetaData()
CUSTOMERS = sa.Table(
    "erp_customers", METADATA,
    sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(254)),
    sa.Column("first_name", sa.String(100)),
    sa.Column("last_name", sa.String(100)),  # the account's business name
    sa.Column("country_code", sa.String(2)),
    sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
    sa.Column("updated_at", UTC_TIMESTAMP, nullable=False, index=True),
)
ORDERS = sa.Table(
    "erp_orders", METADATA,
    sa.Column("order_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("order_number", sa.String(32), nullable=False, unique=True),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("ordered_at", UTC_TIMESTAMP, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("subtotal_amount", MONEY, nullable=False),  # Σ lines after the trade discount
    sa.Column("discount_amount", MONEY, nullable=False),
    sa.Column("shipping_amount", MONEY, nullable=False),  # flat freight
    sa.Column("tax_amount", MONEY, nullable=False),
    sa.Column("total_amount", MONEY, nullable=False),
    sa.Column("updated_at", UTC_TIMESTAMP, nullable=False, index=True),
)
ORDER_LINES = sa.Table(
    "erp_order_lines", METADATA,
    sa.Column("line_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("order_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("line_number", sa.Integer, nullable=False),
    sa.Column("sku", sa.String(64)),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", MONEY, nullable=False),
    sa.Column("discount_amount", MONEY, nullable=False),
    sa.Column("tax_amount", MONEY, nullable=False),
    sa.Column("updated_at", UTC_TIMESTAMP, nullable=False, index=True),
)
TABLES = {t.name: t for t in (CUSTOMERS, ORDERS, ORDER_LINES)}  # in load order (parents first)
ORDER_MONEY = ("subtotal_amount", "discount_amount", "shipping_amount", "tax_amount", "total_amount")
LINE_MONEY = ("unit_price", "discount_amount", "tax_amount")
KEYS = {name: table.primary_key.columns.keys()[0] for name, table in TABLES.items()}


# --- the world's rows ---------------------------------------------------------------------------------------

def _records(frame: pl.DataFrame, money: Sequence[str]) -> list[dict[str, Any]]:
    """Rows as dicts, the ``money`` columns turned from integer cents into exact two-place ``Decimal``."""
    rows = frame.to_dicts()
    for row in rows:
        for column in money:
            row[column] = Decimal(int(row[column])).scaleb(-2)
    return rows


def erp_rows(shop: ShopWorld, as_of: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """The ERP's rows per table for the shop's wholesale channel as seen at ``as_of`` (default: everything)."""
    world = shop if as_of is None else shop.visible(as_of)
    orders = world.channel("wholesale").sort("order_id")
    ids = orders["order_id"].implode()
    lines = (world.order_lines.filter(pl.col("order_id").is_in(ids))
             .join(orders.select("order_id", "updated_at"), on="order_id").sort("order_id", "line_id"))
    accounts = world.customers.filter(pl.col("acquisition_channel") == "wholesale").sort("customer_id")
    return {
        "erp_customers": accounts.select(
            "customer_id", "email", "first_name", "last_name", "country_code", "created_at", "updated_at",
        ).to_dicts(),
        "erp_orders": _records(orders.select(
            "order_id", order_number="name", customer_id="customer_id", channel="channel",
            status=pl.lit("invoiced"), ordered_at="created_at", currency=pl.lit(world.spec.currency),
            subtotal_amount="subtotal_cents", discount_amount="discount_cents", shipping_amount="shipping_cents",
            tax_amount="tax_cents", total_amount="total_cents", updated_at="updated_at",
        ), ORDER_MONEY),
        "erp_order_lines": _records(lines.select(
            "line_id", "order_id", line_number=pl.col("line_id").rank("ordinal").over("order_id").cast(pl.Int32),
            sku="sku", quantity="quantity", unit_price="unit_price_cents", discount_amount="discount_cents",
            tax_amount="tax_cents", updated_at="updated_at",
        ), LINE_MONEY),
    }


# --- the server ---------------------------------------------------------------------------------------------

def database_url(url: str | sa.URL) -> sa.URL:
    """The URL with an explicit driver (``mysql://`` → PyMySQL, ``postgresql://`` → psycopg2)."""
    parsed = sa.make_url(url)
    return parsed.set(drivername=DRIVERS.get(parsed.drivername, parsed.drivername))


def _is_mysql(url: sa.URL) -> bool:
    return url.get_backend_name() in ("mysql", "mariadb")


def _server_engine(url: sa.URL) -> sa.Engine:
    """An engine on the server itself (no database, or PostgreSQL's maintenance database), autocommitting."""
    server = sa.URL.create(url.drivername, url.username, url.password, url.host, url.port,
                           None if _is_mysql(url) else "postgres", url.query)
    return sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)


def _is_sqlite(url: sa.URL) -> bool:
    """A SQLite file: the serverless ERP of the embedded demo (``sqlite:////abs/path/erp.db``)."""
    return url.get_backend_name() == "sqlite"


def create_database(url: str | sa.URL) -> sa.URL:
    """Create the URL's database if the server lacks it; returns the normalised URL."""
    url = database_url(url)
    name = url.database
    if not name:
        raise ValueError("the database URL must name a database, e.g. mysql+pymysql://root@127.0.0.1:3306/erp")
    if _is_sqlite(url):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        return url
    engine = _server_engine(url)
    try:
        with engine.connect() as conn:
            if _is_mysql(url):
                conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"))
            elif conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return url


def drop_database(url: str | sa.URL) -> None:
    """Drop the URL's database if it exists (PostgreSQL: ending the sessions still connected to it first)."""
    url = database_url(url)
    if _is_sqlite(url):
        Path(url.database).unlink(missing_ok=True)
        return
    engine = _server_engine(url)
    try:
        with engine.connect() as conn:
            if _is_mysql(url):
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{url.database}`"))
            else:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": url.database})
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}"'))
    finally:
        engine.dispose()


def _engine(url: str | sa.URL) -> tuple[sa.Engine, bool]:
    url = database_url(url)
    return sa.create_engine(url, poolclass=sa.NullPool), _is_mysql(url) or _is_sqlite(url)


def _stored(row: dict[str, Any], naive_utc: bool) -> dict[str, Any]:
    """A row as the server takes it: MySQL DATETIME holds naive UTC, PostgreSQL TIMESTAMPTZ aware instants."""
    if not naive_utc:
        return row
    return {k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in row.items()}


def seed(url: str | sa.URL, shop: ShopWorld, as_of: datetime | None = None) -> dict[str, int]:
    """(Re)create the ERP tables in the URL's database (created if missing) holding exactly the shop's
    wholesale channel at ``as_of``; returns the rows written per table. Idempotent."""
    engine, naive_utc = _engine(create_database(url))
    rows = erp_rows(shop, as_of)
    try:
        METADATA.drop_all(engine)
        METADATA.create_all(engine)
        with engine.begin() as conn:
            for name, table in TABLES.items():
                if rows[name]:
                    conn.execute(table.insert(), [_stored(r, naive_utc) for r in rows[name]])
    finally:
        engine.dispose()
    return {name: len(r) for name, r in rows.items()}


def advance(url: str | sa.URL, shop: ShopWorld, as_of: datetime | None = None) -> dict[str, int]:
    """Bring the ERP forward to the world at ``as_of``: insert rows it lacks, update rows whose world
    ``updated_at`` is later than the stored one (rows edited here since, e.g. cancelled, keep their edit
    unless the world moved past it). Returns the rows written per table."""
    engine, naive_utc = _engine(url)
    written = {}
    try:
        with engine.begin() as conn:
            for name, rows in erp_rows(shop, as_of).items():
                table, key = TABLES[name], KEYS[name]
                stored = {k: _utc(t) for k, t in conn.execute(sa.select(table.c[key], table.c.updated_at))}
                changed = [r for r in rows if r[key] not in stored or r["updated_at"] > stored[r[key]]]
                for row in changed:
                    values = _stored(row, naive_utc)
                    if row[key] in stored:
                        conn.execute(table.update().where(table.c[key] == row[key]).values(values))
                    else:
                        conn.execute(table.insert().values(values))
                written[name] = len(changed)
    finally:
        engine.dispose()
    return written


def update_rows(url: str | sa.URL, table: str, keys: Iterable[int], at: datetime, **values: Any) -> int:
    """Set ``values`` on the rows of ``table`` with these primary keys and bump their ``updated_at`` to ``at``
    (aware, or naive meaning UTC); returns the rows changed."""
    engine, naive_utc = _engine(url)
    target, key = TABLES[table], KEYS[table]
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    try:
        with engine.begin() as conn:
            result = conn.execute(target.update().where(target.c[key].in_(list(keys)))
                                  .values(_stored({**values, "updated_at": at}, naive_utc)))
            return result.rowcount
    finally:
        engine.dispose()


def cancel_orders(url: str | sa.URL, order_ids: Sequence[int], at: datetime) -> int:
    """Cancel orders as a clerk would: status ``cancelled``, ``updated_at`` = ``at``; returns the rows changed."""
    return update_rows(url, "erp_orders", order_ids, at, status="cancelled")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- command line -------------------------------------------------------------------------------------------

def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.databases",
                                     description="A shop's ERP database (its wholesale channel), MySQL or PostgreSQL.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("seed", "(re)create the ERP tables holding the world at --as-of"),
                       ("advance", "insert/update what the world created or changed by --as-of")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--world", default="sandbox/worlds/demo.yaml", help="world spec (YAML)")
        command.add_argument("--shop", required=True)
        command.add_argument("--as-of", help="ISO 8601 instant (default: the world's end)")
    cancel = commands.add_parser("cancel", help="cancel orders (status cancelled, updated_at bumped)")
    cancel.add_argument("--order-id", type=int, action="append", required=True)
    cancel.add_argument("--at", help="ISO 8601 instant of the edit (default: now)")
    for command in commands.choices.values():
        command.add_argument("--url", required=True,
                             help="SQLAlchemy URL naming the database, e.g. mysql+pymysql://root@127.0.0.1:3306/erp")
    args = parser.parse_args(argv)

    shown = database_url(args.url).render_as_string(hide_password=True)
    if args.command == "cancel":
        changed = cancel_orders(args.url, args.order_id, _instant(args.at) or datetime.now(UTC))
        print(f"cancelled {changed} order(s) in {shown}")
        return
    shop = build_world(WorldSpec.load(args.world)).shop(args.shop)
    act = seed if args.command == "seed" else advance
    counts = act(args.url, shop, _instant(args.as_of))
    print(f"{args.command}: {', '.join(f'{n} {t}' for t, n in counts.items())} rows in {shown}")


if __name__ == "__main__":
    main()
