"""orchestration/sites/build.py without Evidence: a fake project whose ``cli.js`` (run by node) records each step
and writes a one-page build. The build is skipped when nothing changed and redone when the data, the project or
the branding did; a step that hangs has its whole process group killed; a failing step and a leaking build are
reported naming the tenant; a leaking site is never published."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from orchestration.sites.build import SiteBuildError, SitePlan, build_prepared, load_plan, prepare_site, run_step
from orchestration.sites.isolation import SiteIsolationError
from orchestration.warehouse import connect
from tests.sites import world

FAKE_CLI = r"""
const fs = require('fs');
const step = process.argv[2];
fs.appendFileSync(process.env.FAKE_EVIDENCE_LOG, step + ' ' + process.env.EVIDENCE_SOURCE__omni__filename + '\n');
if (step === 'build') {
  fs.mkdirSync('build', { recursive: true });
  const layout = fs.readFileSync('pages/+layout.svelte', 'utf8');
  const telemetry = fs.readFileSync('evidence.settings.json', 'utf8');
  fs.writeFileSync('build/index.html', `<html>${process.env.FAKE_LEAK || ''}${layout}${telemetry}</html>`);
}
"""


@pytest.fixture
def fake_project(tmp_path, monkeypatch) -> Path:
    project = tmp_path / "reports"
    (project / "pages").mkdir(parents=True)
    (project / "pages" / "index.md").write_text("# Summary\n")
    (project / "pages" / "returns.md").write_text("# Returns\n")
    (project / "sources" / "omni").mkdir(parents=True)
    (project / "sources" / "omni" / "kpis.sql").write_text("select * from kpis\n")
    (project / "package.json").write_text("{}\n")
    (project / "evidence.config.yaml").write_text("plugins: {}\n")
    cli = project / "node_modules" / "@evidence-dev" / "evidence" / "cli.js"
    cli.parent.mkdir(parents=True)
    cli.write_text(FAKE_CLI)
    monkeypatch.setenv("FAKE_EVIDENCE_LOG", str(tmp_path / "steps.log"))
    monkeypatch.delenv("FAKE_LEAK", raising=False)
    return project


def steps_run(tmp_path) -> list[str]:
    log = tmp_path / "steps.log"
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def build(settings, project, **kwargs):
    return build_prepared(settings, prepare_site(settings, world.ACME), reports_dir=project, log=lambda _: None,
                          **kwargs)


def test_skips_an_unchanged_site_and_rebuilds_on_data_project_or_branding_change(duckdb_world, fake_project,
                                                                                 tmp_path):
    first = build(duckdb_world, fake_project)
    assert first.built and steps_run(tmp_path) == ["sources", "build"]
    assert first.pages == ("/", "/returns/")
    index = (first.site_dir / "index.html").read_text()
    assert world.ACME_NAME in index and '"send_anonymous_usage_stats": "no"' in index
    source_file = (tmp_path / "steps.log").read_text().split()[1]
    assert (first.site_dir.parent / "work" / "sources" / "omni" / source_file).resolve() == \
        (first.site_dir.parent / "export.duckdb").resolve()  # the tenant's export, relative to the source dir

    again = build(duckdb_world, fake_project)
    assert not again.built and again.content_hash == first.content_hash
    assert steps_run(tmp_path) == ["sources", "build"]  # nothing ran

    (fake_project / "pages" / "returns.md").write_text("# Returns, changed\n")
    assert build(duckdb_world, fake_project).built  # the project changed
    with connect(duckdb_world, read_only=False) as con:
        con.execute("update marts.fct_orders set net_revenue_reporting = 1.00 where tenant_id = 'rival'")
    assert not build(duckdb_world, fake_project).built  # another tenant's data is not acme's
    with connect(duckdb_world, read_only=False) as con:
        con.execute("update marts.fct_orders set net_revenue_reporting = 121.00 where order_key = 'acme-o3'")
    assert build(duckdb_world, fake_project).built  # acme's data changed

    registry = duckdb_world.tenants_file
    text = registry.read_text().replace("brand_color: '#1f6f4a'", "brand_color: '#aa0000'")
    assert text != registry.read_text()
    registry.write_text(text)
    rebuilt = build(duckdb_world, fake_project)
    assert rebuilt.built and "#aa0000" in (rebuilt.site_dir / "index.html").read_text()
    assert steps_run(tmp_path).count("build") == 4
    assert build(duckdb_world, fake_project, force=True).built


def test_a_leaking_build_is_refused_and_not_published(duckdb_world, fake_project, monkeypatch):
    monkeypatch.setenv("FAKE_LEAK", f"<p>{world.RIVAL_SKU}</p>")
    with pytest.raises(SiteIsolationError, match=rf"tenant rival's canary_sku '{world.RIVAL_SKU}'"):
        build(duckdb_world, fake_project)
    assert not (duckdb_world.home / "sites" / world.ACME / "site").exists()


def test_the_plan_round_trips_and_a_missing_plan_is_named(duckdb_world):
    plan = prepare_site(duckdb_world, world.ACME)
    assert SitePlan.from_json(plan.to_json()) == plan
    assert load_plan(duckdb_world, world.ACME) == plan
    assert {m.value for m in plan.markers} >= {world.RIVAL, world.RIVAL_NAME, world.RIVAL_SKU}
    with pytest.raises(SiteBuildError, match="tenant rival: no site export yet"):
        load_plan(duckdb_world, world.RIVAL)


def test_without_evidence_installed_the_error_says_how_to_install(duckdb_world, fake_project):
    shutil.rmtree(fake_project / "node_modules")
    with pytest.raises(SiteBuildError, match=r"tenant acme: Evidence is not installed .*make reports-install"):
        build(duckdb_world, fake_project)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead, only not yet reaped by its parent
        return stat.read().split()[2] != "Z"


def test_a_hanging_step_has_its_process_group_killed(tmp_path):
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! > {pids}; sleep 300"
    start = time.monotonic()
    with pytest.raises(SiteBuildError, match=r"tenant acme: evidence build did not finish within 1s; its process "
                                             r"group was killed"):
        run_step("acme", "build", ["sh", "-c", script], cwd=tmp_path, env=dict(os.environ), timeout=1,
                 log_file=tmp_path / "build.log")
    assert time.monotonic() - start < 30
    child = int(pids.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the step's background child survived the timeout"


def test_a_failing_step_quotes_its_output(tmp_path):
    with pytest.raises(SiteBuildError, match=r"(?s)tenant acme: evidence sources failed with exit code 3.*"
                                             r"Error connecting to datasource omni"):
        run_step("acme", "sources", ["sh", "-c", "echo 'Error connecting to datasource omni'; exit 3"],
                 cwd=tmp_path, env=dict(os.environ), timeout=30, log_file=tmp_path / "sources.log")


def test_the_stamp_records_what_was_built(duckdb_world, fake_project):
    built = build(duckdb_world, fake_project)
    stamp = json.loads((built.site_dir.parent / "stamp.json").read_text())
    assert stamp["export"] == built.export.content_hash and set(stamp) == {"version", "export", "project",
                                                                          "branding"}


def test_the_export_asset_materializes_one_tenants_plan(duckdb_world, monkeypatch):
    import dagster as dg

    from orchestration.defs.reports import EXPORT_KEY, report_site_definitions
    from orchestration.tenants import load_registry

    monkeypatch.setenv("OMNI_HOME", str(duckdb_world.home))
    monkeypatch.setenv("OMNI_DUCKDB_PATH", str(duckdb_world.duckdb_path))
    monkeypatch.setenv("OMNI_TENANTS_FILE", str(duckdb_world.tenants_file))
    assets, jobs, schedules = report_site_definitions(load_registry(duckdb_world.tenants_file),
                                                      dg.StaticPartitionsDefinition([world.ACME, world.RIVAL]))
    assert [j.name for j in jobs] == ["tenant_reports"] and [s.name for s in schedules] == ["daily_tenant_reports"]
    export_asset = next(a for a in assets if a.key == EXPORT_KEY)
    result = dg.materialize([export_asset], partition_key=world.ACME, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    [event] = result.asset_materializations_for_node(export_asset.op.name)
    plan = load_plan(duckdb_world, world.ACME)
    assert event.metadata["content_hash"].value == plan.export.content_hash
    assert event.metadata["as_of"].value == world.AS_OF.isoformat()
