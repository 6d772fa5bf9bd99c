"""dlt sources: plain Python, runnable by dlt alone, never importing Dagster."""
