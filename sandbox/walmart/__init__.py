"""A twin of the Walmart Marketplace API (token, Orders v3, reconciliation report) over the sandbox world.

See README.md in this folder; the twin is registered in ``sandbox/twins.py`` as ``sandbox.walmart.api:WalmartTwin``.
"""
