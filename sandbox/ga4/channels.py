"""GA4's default channel grouping (``sessionDefaultChannelGroup``), computed by Google's published rules.

The rules are evaluated top to bottom and the first that matches wins (Analytics Help, "[GA4] Default channel
group"); matching is case-insensitive. Google's source category lists (search, social, shopping, video sites)
are long; the sets below hold their common entries, enough for every source the sandbox world emits and the
usual UTM values a merchant writes. Anything no rule claims is ``Unassigned``.
"""

from __future__ import annotations

import re

SEARCH_SITES = frozenset({
    "google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia", "ask", "aol", "naver", "seznam",
    "qwant", "startpage", "brave", "search.yahoo.com", "www.google.com", "google.com", "bing.com",
    "duckduckgo.com", "yandex.ru", "baidu.com", "ecosia.org", "search.brave.com", "m.baidu.com",
})
SOCIAL_SITES = frozenset({
    "facebook", "facebook.com", "m.facebook.com", "l.facebook.com", "lm.facebook.com", "fb", "instagram",
    "instagram.com", "l.instagram.com", "ig", "twitter", "twitter.com", "t.co", "x.com", "linkedin",
    "linkedin.com", "lnkd.in", "pinterest", "pinterest.com", "reddit", "reddit.com", "tiktok", "tiktok.com",
    "snapchat", "threads.net", "tumblr", "quora", "wechat", "weibo", "whatsapp", "discord",
})
SHOPPING_SITES = frozenset({
    "google shopping", "igshopping", "amazon", "amazon.com", "ebay", "ebay.com", "etsy", "etsy.com",
    "shopify", "shopify.com", "walmart", "walmart.com", "stripe", "stripe.com", "alibaba", "alibaba.com",
    "shopping.yahoo.com", "shopzilla.com", "mercadolibre.com",
})
VIDEO_SITES = frozenset({
    "youtube", "youtube.com", "m.youtube.com", "vimeo", "vimeo.com", "twitch", "twitch.tv", "dailymotion",
    "dailymotion.com", "wistia", "blog.twitch.tv",
})

PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
SHOPPING_CAMPAIGN = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$")
DISPLAY_MEDIA = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
SOCIAL_MEDIA = frozenset({"social", "social-network", "social-media", "sm", "social network", "social media"})
EMAIL = frozenset({"email", "e-mail", "e_mail", "e mail"})

CHANNEL_GROUPS = (
    "Direct", "Cross-network", "Paid Shopping", "Paid Search", "Paid Social", "Paid Video", "Display",
    "Paid Other", "Organic Shopping", "Organic Social", "Organic Video", "Organic Search", "Referral", "Email",
    "Affiliates", "Audio", "SMS", "Mobile Push Notifications", "Unassigned",
)


def default_channel_group(source: str, medium: str, campaign: str = "(not set)") -> str:
    """The GA4 default channel group of a session with this source, medium and campaign name."""
    s, m, c = source.strip().lower(), medium.strip().lower(), campaign.strip().lower()
    paid = PAID_MEDIUM.match(m) is not None
    shopping = s in SHOPPING_SITES or SHOPPING_CAMPAIGN.match(c) is not None
    if s == "(direct)" and m in ("(not set)", "(none)"):
        return "Direct"
    if "cross-network" in c:
        return "Cross-network"
    if shopping and paid:
        return "Paid Shopping"
    if s in SEARCH_SITES and paid:
        return "Paid Search"
    if s in SOCIAL_SITES and paid:
        return "Paid Social"
    if s in VIDEO_SITES and paid:
        return "Paid Video"
    if m in DISPLAY_MEDIA:
        return "Display"
    if paid:
        return "Paid Other"
    if shopping:
        return "Organic Shopping"
    if s in SOCIAL_SITES or m in SOCIAL_MEDIA:
        return "Organic Social"
    if s in VIDEO_SITES or re.match(r"^(.*video.*)$", m):
        return "Organic Video"
    if s in SEARCH_SITES or m == "organic":
        return "Organic Search"
    if m in ("referral", "app", "link"):
        return "Referral"
    if s in EMAIL or m in EMAIL:
        return "Email"
    if m == "affiliate":
        return "Affiliates"
    if m == "audio":
        return "Audio"
    if s == "sms" or m == "sms":
        return "SMS"
    if m.endswith("push") or "mobile" in m or "notification" in m or s == "firebase":
        return "Mobile Push Notifications"
    return "Unassigned"
