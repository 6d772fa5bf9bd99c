"""The one place that decides asset keys and groups, for every integration.

Raw landings are ``raw/<source>/<table>`` (group ``raw_<source>``): every dlt resource lands one table of the
same name, and the dbt source of that table gets the same key, so lineage runs from API to mart. dbt models
are ``<layer>/<model>`` with the layer (staging, marts…) taken from their folder, grouped by layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings
from dagster_dlt import DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData

RAW = "raw"
ML = "ml"  # the models' assets ml/<model> and their group (orchestration/defs/ml.py)
ALERTS = "alerts"  # alerts/firings and its group (orchestration/defs/alerts.py)
SITES = "sites"  # the report sites' asset sites/report_site and its group (orchestration/defs/reports.py)


def raw_asset_key(source: str, resource: str) -> dg.AssetKey:
    return dg.AssetKey([RAW, source, resource])


class DltTranslator(DagsterDltTranslator):
    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        resource = data.resource
        return super().get_asset_spec(data).replace_attributes(
            key=raw_asset_key(resource.source_name, resource.name),
            group_name=f"{RAW}_{resource.source_name}",
            deps=[],
            kinds={"dlt", data.destination.destination_name if data.destination else "duckdb"},
        )


class DbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return raw_asset_key(dbt_resource_props["source_name"], dbt_resource_props["name"])
        return dg.AssetKey([_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return f"{RAW}_{dbt_resource_props['source_name']}"
        return _layer(dbt_resource_props)


def _layer(props: Mapping[str, Any]) -> str:
    """The model's top folder under models/ (staging, marts, …); seeds are their own layer."""
    if props["resource_type"] == "seed":
        return "seeds"
    fqn = props.get("fqn") or []
    return fqn[1] if len(fqn) > 2 else "models"
