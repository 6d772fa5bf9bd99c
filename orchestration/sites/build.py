"""Build one tenant's static report site with Evidence (``reports/``), offline, and publish it.

Two steps, so the minutes Evidence takes never hold the warehouse (the embedded DuckDB has one writer):

``prepare_site(settings, tenant) -> SitePlan`` (the only warehouse reads): exports the tenant's slice
(orchestration/sites/export.py) to ``$OMNI_HOME/sites/<tenant>/export.duckdb`` and reads the other tenants'
markers the output will be scanned for (orchestration/sites/isolation.py); saved as ``plan.json``.

``build_prepared(settings, plan) -> SiteBuild``:

1. skips everything when the export's content hash, the reports project's hash and the tenant's branding are
   those of the last successful build (``stamp.json``) and the published site is still there: an unchanged
   tenant costs a second, not Evidence's minute and a half;
2. otherwise lays out a fresh work directory ``$OMNI_HOME/sites/<tenant>/work`` (Evidence always writes
   ``./build`` and ``./.evidence`` in its working directory, so each tenant has its own): the project's pages
   and sources, the tenant's branding, the telemetry switch ``evidence.settings.json``, and ``node_modules`` as
   a symlink to the one install in ``reports/node_modules`` (``npm ci`` once, shared by every tenant);
3. runs ``evidence sources`` and ``evidence build`` there, each in its own process group under a timeout that
   kills the whole group (a hang is never the failure mode: the error names tenant and step), one Evidence build
   at a time on the machine (a lock file in ``reports/node_modules``: a build takes ~3 GB);
4. scans the output for any other tenant's name, slug or canary and refuses to publish a leaking site;
5. publishes ``build/`` to ``$OMNI_HOME/sites/<tenant>/site`` and writes the stamp.

``build_site`` does both steps (the Dagster job ``tenant_reports`` runs them as two assets).
Evidence's DuckDB-Wasm would download its parquet extension at build time (a build without internet hangs);
``reports/patches/`` (applied by ``npm ci``'s postinstall) keeps that download off the path: see reports/README.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from orchestration.settings import REPO_ROOT, Settings
from orchestration.sites.branding import resolve_branding, write_branding
from orchestration.sites.export import ExportResult, export_tenant
from orchestration.sites.isolation import Marker, assert_isolated, foreign_markers
from orchestration.tenants import Tenant, TenantRegistry, load_registry
from orchestration.warehouse import connect

REPORTS_DIR = REPO_ROOT / "reports"
SOURCE = "omni"  # reports/sources/omni: the Evidence source every page reads
PROJECT_PARTS = ("package.json", "package-lock.json", "evidence.config.yaml", "patches", "pages", "sources",
                 "components")  # what a build copies or depends on; reports/branding/ is per tenant (branding)
TELEMETRY_OFF = {"send_anonymous_usage_stats": "no"}
STAMP_VERSION = 1  # bump when this module changes what a build produces
SOURCES_TIMEOUT_S = 300
BUILD_TIMEOUT_S = 900
LOCK_TIMEOUT_S = 1800
KILL_GRACE_S = 10


class SiteBuildError(RuntimeError):
    """A site could not be built; the message names the tenant and the step."""


@dataclass(frozen=True)
class SitePlan:
    """What a build needs from the warehouse, read in one short step: the tenant's export and the other
    tenants' markers the built site is scanned for. Saved as ``plan.json`` beside the export, so the Evidence
    build (minutes) runs without touching the warehouse (orchestration/defs/reports.py: two assets)."""

    tenant: str
    export: ExportResult
    markers: tuple[Marker, ...]

    def to_json(self) -> str:
        e = self.export
        return json.dumps({
            "tenant": self.tenant,
            "export": {"path": str(e.path), "content_hash": e.content_hash, "row_counts": e.row_counts,
                       "as_of": e.as_of.isoformat() if e.as_of else None, "notes": list(e.notes)},
            "markers": [[m.tenant, m.kind, m.value] for m in self.markers],
        }, indent=2)

    @classmethod
    def from_json(cls, text: str) -> SitePlan:
        raw = json.loads(text)
        e = raw["export"]
        export = ExportResult(raw["tenant"], Path(e["path"]), e["content_hash"], e["row_counts"],
                              date.fromisoformat(e["as_of"]) if e["as_of"] else None, tuple(e["notes"]))
        return cls(raw["tenant"], export, tuple(Marker(*m) for m in raw["markers"]))


@dataclass(frozen=True)
class SiteBuild:
    tenant: str
    site_dir: Path
    pages: tuple[str, ...]  # URL paths, "/" first
    built: bool  # False: skipped, the stamp matched
    seconds: float
    content_hash: str
    export: ExportResult
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step when built


def page_paths(reports_dir: Path = REPORTS_DIR) -> tuple[str, ...]:
    """The site's pages as URL paths (Evidence's trailingSlash: always), the summary first."""
    names = sorted(p.relative_to(reports_dir / "pages").with_suffix("").as_posix()
                   for p in (reports_dir / "pages").rglob("*.md"))
    return tuple(["/"] + [f"/{n}/" for n in names if n != "index"]) if "index" in names else \
        tuple(f"/{n}/" for n in names)


def project_hash(reports_dir: Path = REPORTS_DIR) -> str:
    """A hash of everything in the Evidence project a build depends on (not node_modules, not tenant logos)."""
    h = hashlib.sha256(f"stamp v{STAMP_VERSION}\n".encode())
    for part in PROJECT_PARTS:
        root = reports_dir / part
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() \
            else []
        for path in files:
            h.update(f"{path.relative_to(reports_dir).as_posix()}\n".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def site_home(settings: Settings, tenant: str) -> Path:
    return settings.home / "sites" / tenant


def _resolve(settings: Settings, tenant: str | Tenant, registry: TenantRegistry | None) -> tuple[Tenant,
                                                                                                 TenantRegistry]:
    registry = registry or load_registry(settings.tenants_file)
    return (registry.get(tenant) if isinstance(tenant, str) else tenant), registry


def prepare_site(settings: Settings, tenant: str | Tenant, *,
                 registry: TenantRegistry | None = None) -> SitePlan:
    """Export the tenant's slice and read the other tenants' markers (the only warehouse reads of a build);
    saved to ``$OMNI_HOME/sites/<tenant>/plan.json``."""
    tenant_obj, registry = _resolve(settings, tenant, registry)
    home = site_home(settings, tenant_obj.slug)
    home.mkdir(parents=True, exist_ok=True)
    export = export_tenant(settings, tenant_obj, home / "export.duckdb")
    with connect(settings) as con:
        markers = tuple(foreign_markers(con, registry, tenant_obj.slug))
    plan = SitePlan(tenant_obj.slug, export, markers)
    (home / "plan.json").write_text(plan.to_json() + "\n")
    return plan


def load_plan(settings: Settings, tenant: str) -> SitePlan:
    path = site_home(settings, tenant) / "plan.json"
    try:
        return SitePlan.from_json(path.read_text())
    except FileNotFoundError:
        raise SiteBuildError(f"tenant {tenant}: no site export yet ({path} is missing: run prepare_site, i.e. "
                             "materialize sites/report_export, first)") from None


def build_site(settings: Settings, tenant: str | Tenant, *, registry: TenantRegistry | None = None,
               **kwargs) -> SiteBuild:
    """Export, build (unless unchanged) and publish one tenant's site; see the module docstring."""
    start = time.perf_counter()
    tenant_obj, registry = _resolve(settings, tenant, registry)
    plan = prepare_site(settings, tenant_obj, registry=registry)
    built = build_prepared(settings, plan, registry=registry, **kwargs)
    return replace(built, seconds=time.perf_counter() - start)


def build_prepared(settings: Settings, plan: SitePlan, *, registry: TenantRegistry | None = None,
                   reports_dir: Path = REPORTS_DIR, force: bool = False, sources_timeout: float = SOURCES_TIMEOUT_S,
                   build_timeout: float = BUILD_TIMEOUT_S, log=print) -> SiteBuild:
    """Build (unless the stamp matches) and publish the site of a prepared tenant; never opens the warehouse."""
    start = time.perf_counter()
    tenant_obj, registry = _resolve(settings, plan.tenant, registry)
    slug, export = tenant_obj.slug, plan.export
    home = site_home(settings, slug)
    site_dir, stamp_file = home / "site", home / "stamp.json"
    branding = resolve_branding(tenant_obj, registry)
    stamp = {"version": STAMP_VERSION, "export": export.content_hash, "project": project_hash(reports_dir),
             "branding": branding.digest}
    content_hash = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()
    pages = page_paths(reports_dir)
    if not force and _stamp(stamp_file) == stamp and (site_dir / "index.html").exists():
        log(f"tenant {slug}: report site unchanged (export, project and branding as last built): skipped")
        return SiteBuild(slug, site_dir, pages, False, time.perf_counter() - start, content_hash, export)

    node_modules = reports_dir / "node_modules"
    cli = node_modules / "@evidence-dev" / "evidence" / "cli.js"
    if not cli.exists():
        raise SiteBuildError(f"tenant {slug}: Evidence is not installed in {node_modules} "
                             "(run `make reports-install`, i.e. `npm ci` in reports/)")
    work = home / "work"
    _lay_out(work, reports_dir, node_modules)
    write_branding(branding, work, (reports_dir / "evidence.config.yaml").read_text())

    env = _evidence_env(export.path, work / "sources" / SOURCE)
    steps: dict[str, float] = {}
    with _build_lock(node_modules, slug):
        for step, timeout in (("sources", sources_timeout), ("build", build_timeout)):
            t0 = time.perf_counter()
            run_step(slug, step, ["node", str(cli), step], cwd=work, env=env, timeout=timeout,
                     log_file=home / "logs" / f"{step}.log")
            steps[step] = round(time.perf_counter() - t0, 1)
            log(f"tenant {slug}: evidence {step} done in {steps[step]:.0f}s")
    built = work / "build"
    if not (built / "index.html").exists():
        raise SiteBuildError(f"tenant {slug}: evidence build finished without {built / 'index.html'}")
    assert_isolated(built, list(plan.markers), slug)

    staging = home / "site.new"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(built, staging, symlinks=False)
    shutil.rmtree(site_dir, ignore_errors=True)
    staging.rename(site_dir)
    stamp_file.write_text(json.dumps(stamp, indent=2) + "\n")
    return SiteBuild(slug, site_dir, pages, True, time.perf_counter() - start, content_hash, export, steps)


def _stamp(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _lay_out(work: Path, reports_dir: Path, node_modules: Path) -> None:
    """A fresh work dir: pages, sources, components, package.json, the telemetry switch, node_modules linked."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for part in ("pages", "sources", "components"):
        if (reports_dir / part).exists():
            shutil.copytree(reports_dir / part, work / part)
    (work / "pages").mkdir(exist_ok=True)
    (work / "static").mkdir(exist_ok=True)
    shutil.copy2(reports_dir / "package.json", work / "package.json")
    (work / "evidence.settings.json").write_text(json.dumps(TELEMETRY_OFF) + "\n")
    (work / "node_modules").symlink_to(node_modules.resolve(), target_is_directory=True)


def _evidence_env(export_path: Path, source_dir: Path) -> dict[str, str]:
    """The parent's environment without any EVIDENCE_/VITE_ variable (one tenant's settings never leak into
    another's build), the tenant's export as the source file (the DuckDB plugin joins the name to the source's
    folder: relative), telemetry and npm's network off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVIDENCE_", "VITE_"))}
    env.update({
        f"EVIDENCE_SOURCE__{SOURCE}__filename": os.path.relpath(export_path.resolve(), source_dir.resolve()),
        "DO_NOT_TRACK": "1",
        "npm_config_offline": "true",  # the `npx vite build` Evidence spawns must never ask the registry
        "npm_config_update_notifier": "false",
        "NO_UPDATE_NOTIFIER": "1",
        "CI": "true",
    })
    return env


def run_step(tenant: str, step: str, args: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
             log_file: Path) -> None:
    """Run one step in its own process group; on timeout kill the whole group (TERM, then KILL) and raise an
    error naming the tenant and step. Output goes to ``log_file``; a failure quotes its tail."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "wb") as out:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise SiteBuildError(f"tenant {tenant}: evidence {step} did not finish within {timeout:.0f}s; its "
                                 f"process group was killed (log: {log_file}){_tail(log_file)}") from None
        except BaseException:
            kill_group(proc)
            raise
    if code != 0:
        raise SiteBuildError(f"tenant {tenant}: evidence {step} failed with exit code {code} (log: {log_file})"
                             f"{_tail(log_file)}")


def kill_group(proc: subprocess.Popen) -> None:
    """TERM the process group, KILL it after a grace period; reap the leader."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n  " + "\n  ".join(text) if text else ""


@contextlib.contextmanager
def _build_lock(node_modules: Path, tenant: str, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """One Evidence build at a time on this machine (each takes ~3 GB): a lock file beside the shared install.
    Waits at most ``timeout`` seconds, polling once a second."""
    with open(node_modules / ".omni-build.lock", "w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SiteBuildError(f"tenant {tenant}: another Evidence build held the build lock for more "
                                         f"than {timeout:.0f}s") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
