"""Twin of the Meta (Facebook/Instagram) Marketing API's ads Insights, over a deterministic ad world derived
from each shop's ShopWorld. See README.md in this folder."""

from sandbox.meta_ads.truth import ad_spend_truth
from sandbox.meta_ads.world import AdWorld, ad_world

__all__ = ["AdWorld", "ad_spend_truth", "ad_world"]
