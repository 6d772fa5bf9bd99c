"""Dagster definitions, one module per concern: ingestion, platform, transformation, automation."""
