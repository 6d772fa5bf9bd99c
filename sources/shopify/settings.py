"""Shopify Admin GraphQL API: version, page sizes and the queries the source sends.

Field names are Shopify's own (Admin API 2025-01). Page sizes keep each query's *requested* cost well
under the bucket (Shopify refuses a query whose requested cost exceeds ``maximumAvailable``).
"""

DEFAULT_API_VERSION = "2025-01"
DEFAULT_START_DATE = "2000-01-01T00:00:00Z"
MAX_LINE_ITEMS = 10  # per order and per refund in one query; more is an error (see helpers.expect_complete)
MAX_REFUNDS = 5  # per order
MAX_VARIANTS = 100

_MONEY_BAG = "{ shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }"

ORDERS_QUERY = f"""
query Orders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id legacyResourceId name createdAt updatedAt processedAt cancelledAt
      currencyCode presentmentCurrencyCode sourceName
      customer {{ id }}
      subtotalPriceSet {_MONEY_BAG}
      totalDiscountsSet {_MONEY_BAG}
      totalTaxSet {_MONEY_BAG}
      totalShippingPriceSet {_MONEY_BAG}
      totalPriceSet {_MONEY_BAG}
      totalRefundedSet {_MONEY_BAG}
      lineItems(first: {MAX_LINE_ITEMS}) {{
        pageInfo {{ hasNextPage }}
        nodes {{
          id sku quantity
          variant {{ id }}
          product {{ id }}
          originalUnitPriceSet {_MONEY_BAG}
          totalDiscountSet {_MONEY_BAG}
          taxLines {{ priceSet {_MONEY_BAG} }}
        }}
      }}
      refunds(first: {MAX_REFUNDS}) {{
        id createdAt
        totalRefundedSet {_MONEY_BAG}
        refundLineItems(first: {MAX_LINE_ITEMS}) {{
          pageInfo {{ hasNextPage }}
          nodes {{
            id quantity
            lineItem {{ id }}
            subtotalSet {_MONEY_BAG}
            totalTaxSet {_MONEY_BAG}
          }}
        }}
      }}
    }}
  }}
}}
"""

CUSTOMERS_QUERY = """
query Customers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id email firstName lastName createdAt updatedAt numberOfOrders
      amountSpent { amount currencyCode }
      defaultAddress { countryCodeV2 }
    }
  }
}
"""

PRODUCTS_QUERY = f"""
query Products($first: Int!, $after: String, $query: String) {{
  products(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id title productType vendor status createdAt updatedAt
      variants(first: {MAX_VARIANTS}) {{
        pageInfo {{ hasNextPage }}
        nodes {{ id sku title price inventoryItem {{ unitCost {{ amount currencyCode }} }} }}
      }}
    }}
  }}
}}
"""

# Page sizes per connection (orders carry nested lines and refunds, so fewer per page).
PAGE_SIZES = {"orders": 50, "customers": 250, "products": 50}
