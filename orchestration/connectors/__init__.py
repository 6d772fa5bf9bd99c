"""Every source the platform can land, by name: the key under a tenant's ``sources:`` in tenants.yaml, the
dlt source name, the raw dataset (``raw_<name>__<tenant>``) and the asset group (``raw_<name>``).

Add a connector: write ``orchestration/connectors/<name>.py`` with its config model, ``build`` and
``template`` (see ``base.py`` and ``shopify.py``), then add one line below.
"""

from __future__ import annotations

from orchestration.connectors import files, shopify
from orchestration.connectors.base import Connector, MissingSecretError, SourceConfig

CONNECTORS: dict[str, Connector] = {
    "shopify": shopify.CONNECTOR,
    "files": files.CONNECTOR,
}

__all__ = ["CONNECTORS", "Connector", "MissingSecretError", "SourceConfig"]
