"""The Shopify Admin GraphQL API twin: SDL subset, indexed shop data, search syntax, cost and throttle."""
