"""Tenant partitions: every per-tenant asset is partitioned by tenant slug, from the registry."""

from __future__ import annotations

import dagster as dg

from orchestration.tenants import TenantRegistry


def tenant_partitions(registry: TenantRegistry) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition(registry.slugs)
