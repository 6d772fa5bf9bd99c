"""A twin of the Amazon Selling Partner API (Orders v0, Finances v0, FBA Inventory v1, Reports 2021-06-30 with the FBA
customer returns report) and of Login with Amazon, serving each shop's simulated Amazon channel
(``sandbox/world/marketplace.py``, ``sandbox/world/marketplace_returns.py``). See README.md."""

from sandbox.amazon.api import AmazonTwin

__all__ = ["AmazonTwin"]
