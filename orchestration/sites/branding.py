"""A tenant's white-label look, resolved from the registry, and the files each site build gets from it.

``tenants.yaml`` may set ``branding: {title, logo, primary_color, accent_color}`` (orchestration/tenants.py);
what is not set falls back to the display name, ``settings.brand_color`` and a generated monogram logo, so a new
tenant's site is branded without any work. The build writes only this tenant's files into its own work directory
(its logo, its colours, its title): another tenant's branding can never reach the site.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from pathlib import Path

from orchestration.tenants import Tenant, TenantRegistry

DEFAULT_PRIMARY = "#2563eb"
DEFAULT_ACCENT = "#c2410c"
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}


class BrandingError(ValueError):
    """The tenant's branding cannot be used; the message names tenant and field."""


@dataclass(frozen=True)
class SiteBranding:
    tenant: str
    title: str
    primary: str
    accent: str
    logo_name: str  # file name under static/brand/ in the site (logo.svg or logo.png)
    logo_bytes: bytes

    @property
    def digest(self) -> str:
        """Changes whenever anything the site shows of the branding changes (part of the build stamp): the
        values, the logo, and this module (the layout and theme it generates)."""
        h = hashlib.sha256(json.dumps([self.title, self.primary, self.accent, self.logo_name]).encode())
        h.update(self.logo_bytes)
        h.update(Path(__file__).read_bytes())
        return h.hexdigest()


def monogram_svg(title: str, color: str) -> bytes:
    """A square logo with the title's initials, for tenants without a logo of their own."""
    initials = "".join(word[0] for word in title.split() if word[:1].isalnum())[:2].upper() or "?"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">'
        f'<rect width="64" height="64" rx="12" fill="{color}"/>'
        '<text x="32" y="41" font-family="sans-serif" font-size="26" font-weight="700" fill="#ffffff" '
        f'text-anchor="middle">{html.escape(initials)}</text></svg>'
    ).encode()


def resolve_branding(tenant: Tenant, registry: TenantRegistry) -> SiteBranding:
    b = tenant.branding
    title = b.title or tenant.display_name
    brand_color = tenant.settings.get("brand_color")
    primary = b.primary_color or (brand_color if isinstance(brand_color, str) else None) or DEFAULT_PRIMARY
    accent = b.accent_color or DEFAULT_ACCENT
    if b.logo:
        path = registry.resolve_path(b.logo)
        if path.suffix.lower() not in LOGO_TYPES:
            raise BrandingError(f"tenant {tenant.slug!r}, field branding.logo: {path.name} must be one of "
                                f"{', '.join(LOGO_TYPES)}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BrandingError(f"tenant {tenant.slug!r}, field branding.logo: cannot read {path}: {exc}") from None
        return SiteBranding(tenant.slug, title, primary, accent, f"logo{path.suffix.lower()}", data)
    return SiteBranding(tenant.slug, title, primary, accent, "logo.svg", monogram_svg(title, primary))


LAYOUT = """<script>
\t// Generated per tenant by orchestration/sites/branding.py: the site's title, logo and brand strip.
\timport '@evidence-dev/tailwind/fonts.css';
\timport '../app.css';
\timport {{ EvidenceDefaultLayout }} from '@evidence-dev/core-components';
\texport let data;
</script>

<svelte:head>
\t<meta name="theme-color" content="{primary}" />
</svelte:head>

<EvidenceDefaultLayout
	{{data}}
	logo="/brand/{logo}"
	builtWithEvidence={{false}}
	homePageName="Summary"
	neverShowQueries={{true}}
>
	<div slot="content">
		<div
			class="omni-brand"
			style="display: flex; align-items: center; gap: 0.75rem; margin-bottom: 1rem;
				padding: 0.5rem 0.75rem; border-left: 6px solid {primary}; background: {primary}14;"
		>
			<img src="/brand/{logo}" alt="" width="40" height="40" style="width: 40px; height: 40px;" />
			<span data-testid="brand-title" style="font-weight: 700; font-size: 1.15rem; color: {primary};"
				>{title}</span
			>
		</div>
		<slot />
	</div>
</EvidenceDefaultLayout>
"""


def svelte_text(text: str) -> str:
    """Plain text safe inside Svelte markup (HTML-escaped, and no ``{`` expression braces)."""
    return html.escape(text).replace("{", "&#123;").replace("}", "&#125;")


def write_branding(branding: SiteBranding, workdir: Path, base_config: str) -> None:
    """Write the tenant's layout, logo (also the favicon when SVG) and theme colours into a build work dir."""
    brand_dir = workdir / "static" / "brand"
    brand_dir.mkdir(parents=True, exist_ok=True)
    (brand_dir / branding.logo_name).write_bytes(branding.logo_bytes)
    if branding.logo_name.endswith(".svg"):
        (workdir / "static" / "icon.svg").write_bytes(branding.logo_bytes)
    (workdir / "pages" / "+layout.svelte").write_text(
        LAYOUT.format(primary=branding.primary, logo=branding.logo_name, title=svelte_text(branding.title)))
    (workdir / "evidence.config.yaml").write_text(themed_config(base_config, branding))


def _mix(color: str, other: str, share: float) -> str:
    a = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))


def brand_palette(primary: str, accent: str) -> list[str]:
    """Chart series colours from the brand: primary, accent, then lighter and darker shades of both."""
    return [primary, accent, _mix(primary, "#ffffff", 0.45), _mix(accent, "#ffffff", 0.45),
            _mix(primary, "#000000", 0.35), _mix(accent, "#000000", 0.35), _mix(primary, "#ffffff", 0.7),
            "#6b7280"]


def themed_config(base_config: str, branding: SiteBranding) -> str:
    """The base evidence.config.yaml with the tenant's primary and accent colours (light and dark)."""
    import yaml

    config = yaml.safe_load(base_config) or {}
    theme = config.setdefault("theme", {})  # Evidence's schema: theme.colors / theme.colorPalettes
    colors = theme.setdefault("colors", {})
    colors["primary"] = {"light": branding.primary, "dark": branding.primary}
    colors["accent"] = {"light": branding.accent, "dark": branding.accent}
    palette = brand_palette(branding.primary, branding.accent)
    theme.setdefault("colorPalettes", {})["default"] = {"light": palette, "dark": list(palette)}
    return "# Generated per tenant by orchestration/sites/branding.py from reports/evidence.config.yaml\n" + \
        yaml.safe_dump(config, sort_keys=False)
