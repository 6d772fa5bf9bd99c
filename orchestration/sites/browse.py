"""Open a built site the way a person does: serve it on 127.0.0.1 and visit every page in headless Chromium.

``serve(site_dir)`` is a threaded ``http.server`` on a free loopback port. ``visit_pages(site_dir, pages,
screenshots=...)`` opens each page with Playwright in Debian's chromium (``/usr/bin/chromium``), waits until the
page is rendered (network idle, no Evidence loading placeholder), and records per page: console errors, uncaught
page errors, failed or >= 400 requests, any request to a host other than the loopback server (blocked: the site
must work offline), Evidence's inline error boxes, and the text of the headline number
(``#headline-net-revenue``). It writes a full-page screenshot per page and viewport (phone 390×844, desktop
1280×900) when asked.

Chromium resolves no host name (``--host-resolver-rules``): left alone it looks up its account and update
servers even with background networking off. The built site loads its data into DuckDB-Wasm in the browser
from the Arrow twins the offline patch writes (reports/README.md), so the client never asks the internet for
DuckDB's parquet extension: a page with an external request fails the check. One allowance: a request
Chromium reports as ``net::ERR_ABORTED`` after its response arrived with status < 400 (Evidence stops reading
a prerendered query's body once it has what it needs) is not a failure.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 # no DNS at all: Chromium itself would still look up its account and update hosts
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
HEADLINE = "#headline-net-revenue"
PAGE_TIMEOUT_MS = 60_000
ERROR_BOXES = "[class*='border-negative/50']"  # Evidence's ErrorChart, InlineError, ValueError, BigValueError


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@contextlib.contextmanager
def serve(site_dir: Path) -> Iterator[str]:
    """Serve ``site_dir`` on 127.0.0.1 (a free port) for the block; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class PageVisit:
    path: str
    viewport: str
    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    error_boxes: list[str] = field(default_factory=list)
    headline: str | None = None  # the headline number's text, on pages that have one
    text: str = ""
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        return ([f"console error: {e}" for e in self.console_errors] + [f"page error: {e}" for e in self.page_errors]
                + [f"failed request: {e}" for e in self.failed_requests]
                + [f"external request (blocked): {e}" for e in self.external_requests]
                + [f"error on page: {e}" for e in self.error_boxes])


def parse_amount(text: str) -> Decimal:
    """'$54,176.57' / '€1.234,00'-free formats / '£-12.30' -> Decimal (Evidence's formats use , and .)."""
    digits = "".join(ch for ch in text if ch.isdigit() or ch in ".-")
    try:
        return Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"no number in {text!r}") from None


def page_slug(path: str) -> str:
    return path.strip("/").replace("/", "_") or "index"


def visit_pages(site_dir: Path, pages: tuple[str, ...] | list[str], *, screenshots: Path | None = None,
                viewports: tuple[str, ...] = ("desktop", "phone")) -> list[PageVisit]:
    """Visit every page in every viewport; see the module docstring. Screenshots go to
    ``screenshots/<page>.png`` (desktop) and ``screenshots/<page>.phone.png``."""
    from playwright.sync_api import sync_playwright

    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    visits = []
    with serve(site_dir) as base, sync_playwright() as pw:
        origin = urlparse(base).netloc
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for viewport in viewports:
                context = browser.new_context(viewport=VIEWPORTS[viewport], service_workers="block")
                try:
                    for path in pages:
                        visits.append(_visit(context, base, origin, path, viewport, screenshots))
                finally:
                    context.close()
        finally:
            browser.close()
    return visits


def _visit(context, base: str, origin: str, path: str, viewport: str, screenshots: Path | None) -> PageVisit:
    visit = PageVisit(path, viewport)
    page = context.new_page()
    ok_urls: set[str] = set()

    def on_route(route):
        if urlparse(route.request.url).netloc == origin:
            route.continue_()
        else:
            visit.external_requests.append(route.request.url)
            route.abort()

    def on_response(response):
        if response.status >= 400:
            visit.failed_requests.append(f"{response.status} {response.url}")
        else:
            ok_urls.add(response.url)

    def on_failed(request):
        failure = request.failure or ""
        if urlparse(request.url).netloc != origin:
            return  # counted as an external request
        if "ERR_ABORTED" in failure and request.url in ok_urls:
            return  # body read stopped after a good response (see the module docstring)
        visit.failed_requests.append(f"{failure} {request.url}")

    page.route("**/*", on_route)
    page.on("console", lambda m: visit.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: visit.page_errors.append(str(e)))
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    try:
        page.goto(base + path, wait_until="networkidle", timeout=PAGE_TIMEOUT_MS)
        # Evidence shows a skeleton while a component waits for its query; wait until none is left.
        page.wait_for_function("() => !document.querySelector('.animate-pulse')", timeout=PAGE_TIMEOUT_MS)
        visit.title = page.title()
        visit.text = page.inner_text("body")
        visit.error_boxes = [" ".join(t.split())[:300] for t in page.locator(ERROR_BOXES).all_inner_texts()]
        headline = page.locator(f"{HEADLINE} .text-xl")
        if headline.count():
            visit.headline = headline.first.inner_text().strip()
        if screenshots is not None:
            suffix = "" if viewport == "desktop" else f".{viewport}"
            visit.screenshot = screenshots / f"{page_slug(path)}{suffix}.png"
            page.screenshot(path=str(visit.screenshot), full_page=True)
    finally:
        page.close()
    return visit


def check_site(site_dir: Path, pages, *, screenshots: Path | None = None,
               viewports: tuple[str, ...] = ("desktop", "phone")) -> list[PageVisit]:
    """``visit_pages`` and raise an AssertionError listing every page's problems (none: the visits)."""
    visits = visit_pages(site_dir, pages, screenshots=screenshots, viewports=viewports)
    problems = [f"{v.path} ({v.viewport}): {p}" for v in visits for p in v.problems]
    if problems:
        raise AssertionError("the report site has problems:\n  " + "\n  ".join(problems))
    return visits
