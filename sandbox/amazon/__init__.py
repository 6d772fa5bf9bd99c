"""A twin of the Amazon Selling Partner API (Orders v0, Finances v0, FBA Inventory v1) and of Login with Amazon,
serving each shop's simulated Amazon channel (``sandbox/world/marketplace.py``). See README.md."""

from sandbox.amazon.api import AmazonTwin

__all__ = ["AmazonTwin"]
