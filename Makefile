# OmniAnalytics — the commands a newcomer needs. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Environment: .env if you made one, else the safe embedded defaults of .env.example.
ENV_FILE := $(if $(wildcard .env),.env,.env.example)
include $(ENV_FILE)
export

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
export DAGSTER_HOME := $(abspath $(OMNI_HOME))/dagster
export PYTHONPATH := $(CURDIR)

UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
DBT := $(VENV)/bin/dbt

.PHONY: help install manifest browser reports-install demo dev test bench lint sandbox webhooks clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' Makefile | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3.11 -m venv .tools && .tools/bin/pip install --quiet "uv==0.13.9"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	touch $@

install: $(VENV)/.installed ## Install the locked Python stack into .venv (uv, seconds)

manifest: install ## Parse the dbt project (Dagster reads target/manifest.json)
	cd dbt_project && $(DBT) parse --quiet

# Debian's chromium: the report sites' screenshots (make demo) and their browser tests. Installed once, from
# Debian's packages, when it is missing (as root, e.g. in CI; otherwise the message says what to run).
browser: ## Install Debian's chromium when it is missing (report-site screenshots and browser tests)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] || { echo "chromium is missing: sudo apt-get install -y chromium"; exit 1; }; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }
	@chromium --version 2>/dev/null

# Evidence for the report sites: npm ci in reports/ from its lockfile, patched for offline builds
# (reports/patches, applied by patch-package); once per lockfile change, shared by every tenant's build.
reports/node_modules/.installed: reports/package.json reports/package-lock.json $(wildcard reports/patches/*.patch)
	cd reports && timeout -k 10 600 npm ci --no-audit --no-fund --loglevel=warn
	touch $@

reports-install: reports/node_modules/.installed ## Install Evidence for the report sites (npm ci in reports/, ~1 min once)

# The Dagster instance follows the profile: local storage (dagster.yaml) or PostgreSQL (dagster.production.yaml).
DAGSTER_CONFIG := $(if $(filter production,$(OMNI_PROFILE)),dagster.production.yaml,dagster.yaml)

$(DAGSTER_HOME)/dagster.yaml: $(DAGSTER_CONFIG) FORCE
	@mkdir -p $(DAGSTER_HOME) && cmp -s $< $@ || cp $< $@

FORCE:

demo: manifest reports-install browser $(DAGSTER_HOME)/dagster.yaml ## Run the whole platform end to end for the demo tenants
	$(PY) -m orchestration.demo

dev: manifest $(DAGSTER_HOME)/dagster.yaml ## Open the Dagster UI on 127.0.0.1:3000 over what the demo built
	exec env --default-signal=INT,TERM $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# pytest-xdist: one worker per core, a test file per worker at a time (module fixtures stay built once), in
# collection order (tests/conftest.py puts the long end-to-end files first, so they start at once).
TEST_WORKERS ?= auto

test: manifest reports-install browser ## Install and run the test suite (in parallel: TEST_WORKERS=1 runs it serially)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: manifest ## Benchmarks, printed as tables: 100k-order Shopify import; one new day in the sales cube; the models vs their oracles at 10k SKUs
	$(PY) tests/benchmarks/bench_shopify_import.py
	$(PY) tests/benchmarks/bench_incremental_cube.py
	$(PY) tests/benchmarks/bench_forecast.py
	$(PY) tests/benchmarks/bench_churn_returns.py
	$(PY) tests/benchmarks/bench_pricing_recommend.py

lint: install ## Static checks: ruff, then dbt parse
	$(VENV)/bin/ruff check .
	cd dbt_project && $(DBT) parse --quiet

sandbox: install ## Serve the sandbox (twin of the channel APIs) on 127.0.0.1:$(OMNI_SANDBOX_PORT)
	$(PY) -m sandbox serve --world sandbox/worlds/demo.yaml --port $(OMNI_SANDBOX_PORT)

webhooks: install ## Receive Shopify webhooks on 127.0.0.1:$(OMNI_WEBHOOKS_PORT) (spooled per tenant under $(OMNI_HOME)/webhooks)
	$(PY) -m orchestration.webhooks subscribe || echo "(no sandbox or shop reachable to subscribe: the receiver starts anyway)"
	exec env --default-signal=INT,TERM $(PY) -m orchestration.webhooks serve --port $(OMNI_WEBHOOKS_PORT)

clean: ## Remove runtime state (warehouse, dlt state, Dagster home, drops)
	rm -rf $(OMNI_HOME) dbt_project/target dbt_project/logs
