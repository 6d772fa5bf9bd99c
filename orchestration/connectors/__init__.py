"""Every source the platform can land, by name: the key under a tenant's ``sources:`` in tenants.yaml, the
dlt source name, the raw dataset (``raw_<name>__<tenant>``) and the asset group (``raw_<name>``).

Add a connector: write ``orchestration/connectors/<name>.py`` with its config model, ``build`` and
``template`` (see ``base.py`` and ``shopify.py``), then add one line below.
"""

from __future__ import annotations

from orchestration.connectors import amazon as amazon_connector
from orchestration.connectors import competitor_prices as competitor_prices_connector
from orchestration.connectors import files, shopify
from orchestration.connectors import fx_rates as fx_rates_connector
from orchestration.connectors import ga4 as ga4_connector
from orchestration.connectors import meta_ads as meta_ads_connector
from orchestration.connectors import quickbooks as quickbooks_connector
from orchestration.connectors import sql_database as sql_database_connector
from orchestration.connectors import walmart as walmart_connector
from orchestration.connectors.base import Connector, MissingSecretError, SourceConfig

CONNECTORS: dict[str, Connector] = {
    "shopify": shopify.CONNECTOR,
    "files": files.CONNECTOR,
    "amazon": amazon_connector.CONNECTOR,
    "sql_database": sql_database_connector.CONNECTOR,
    "ga4": ga4_connector.CONNECTOR,
    "quickbooks": quickbooks_connector.CONNECTOR,
    "meta_ads": meta_ads_connector.CONNECTOR,
    "walmart": walmart_connector.CONNECTOR,
    "fx_rates": fx_rates_connector.CONNECTOR,
    "competitor_prices": competitor_prices_connector.CONNECTOR,
}

__all__ = ["CONNECTORS", "Connector", "MissingSecretError", "SourceConfig"]
