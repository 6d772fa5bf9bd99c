"""Per-tenant report sites: what each tenant's Evidence site is built from (exports, insights, branding)."""
