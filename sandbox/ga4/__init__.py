"""Google Analytics 4 (Data API v1beta + Google OAuth2) twin: sandbox/ga4/README.md."""

from sandbox.ga4.api import Ga4Twin

__all__ = ["Ga4Twin"]
