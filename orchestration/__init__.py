"""OmniAnalytics orchestration: the one Dagster code location wrapping sources, dbt and (later) ML."""
