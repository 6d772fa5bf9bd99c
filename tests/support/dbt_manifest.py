"""The dbt manifest Dagster loads (``dbt_project/target/manifest.json``), parsed at most once at a time.

``make test`` parses the project before pytest starts, so this normally finds a fresh manifest and does nothing.
Run alone, or after a model changed, it parses again: under an exclusive file lock, because pytest-xdist's
workers share the project directory and a demo run by one worker reads the manifest another could be writing.
"""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_project"
MANIFEST = PROJECT / "target" / "manifest.json"
DBT = REPO / ".venv" / "bin" / "dbt"
SOURCES = ("dbt_project.yml", "profiles.yml", "packages.yml", "models", "macros", "seeds", "tests", "snapshots")


def newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        path = PROJECT / name
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def fresh_manifest() -> Path:
    """The manifest, re-parsed first if it is missing or older than any file of the project."""
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    with open(PROJECT / "target" / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not MANIFEST.exists() or MANIFEST.stat().st_mtime < newest_source_mtime():
            subprocess.run([str(DBT), "parse", "--quiet"], cwd=PROJECT, check=True)
    return MANIFEST
