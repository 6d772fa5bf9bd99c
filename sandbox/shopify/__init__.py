"""The Shopify Admin GraphQL API twin: schema, data graph, cost model and throttle."""
