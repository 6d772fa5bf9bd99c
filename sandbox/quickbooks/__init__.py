"""A twin of the QuickBooks Online Accounting API (v3) over a company derived from each shop's world.

See sandbox/quickbooks/README.md; ``truth.costs_truth`` gives the exact totals the platform must land.
"""

from sandbox.quickbooks.api import QuickBooksTwin

__all__ = ["QuickBooksTwin"]
