# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make dev    create .venv, then run Dagster (UI on http://127.0.0.1:3000) on embedded defaults
#   make test   create .venv (and .venv-bigquery), then lint, validate the definitions and run the whole test suite
#   make dashboard   the ridership dashboard on http://127.0.0.1:8501 (next to make dev)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PORT ?= 3000
DASHBOARD_PORT ?= 8501
TEST_WORKERS ?= 2

.PHONY: dev test lint format validate materialize mirror mart-rebuild clean dashboard chromium bigquery-venv

# Settings given on make's command line (make dev MTA_SITE_URL=...) reach the commands too.
export MTA_SITE_URL MTA_LAKE_URL MTA_WAREHOUSE_PATH

$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "mta_lake needs Python 3.11 (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# constraints.txt is the lock: every package at the version the tests ran with.
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,deploy]'
	touch $(INSTALLED)

# Local development: SQLite instance in this folder (DAGSTER_HOME=.), lake in data/lake,
# the weekly schedule and the sensors running. The UI listens on 127.0.0.1 only.
dev: $(INSTALLED)
	@echo "Dagster UI: http://127.0.0.1:$(PORT); the ridership dashboard: make dashboard (http://127.0.0.1:$(DASHBOARD_PORT))"
	DAGSTER_HOME=$(CURDIR) $(BIN)/dagster dev -h 127.0.0.1 -p $(PORT)

# Two test processes (TEST_WORKERS=1 for one), a test module each at a time: the end-to-end tests spend
# most of their time waiting for Dagster's daemons, so two of them share 2 cores well.
test: $(INSTALLED) lint validate chromium bigquery-venv
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

lint: $(INSTALLED)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: $(INSTALLED)
	DAGSTER_HOME= $(BIN)/dagster definitions validate -m mta_lake.definitions

# make mirror: serve the repo's real samples as the MTA site on 127.0.0.1:8808 (work offline);
# then, in another terminal: make dev MTA_SITE_URL=http://127.0.0.1:8808/developers
mirror: $(INSTALLED)
	$(BIN)/python -m mta_lake_harness.mirror --fixtures --port 8808

# make materialize WEEK=2017-05-27 [MTA_SITE_URL=...]: land one week from the command line, in this
# process, recorded in the local instance; the outcome (or the reason it failed) in one line.
materialize: $(INSTALLED)
	DAGSTER_HOME=$(CURDIR) $(BIN)/mta-lake materialize $(WEEK)

# make mart-rebuild: rebuild the whole ridership mart from the clean layer in the lake (dbt --full-refresh).
mart-rebuild: $(INSTALLED)
	$(BIN)/python -m mta_lake.core.mart.dbt_project

# make dashboard: the ridership dashboard on http://127.0.0.1:$(DASHBOARD_PORT), offline, from the mart's
# warehouse (MTA_WAREHOUSE_PATH) through its own copy, which never blocks a mart run (mta_lake/dashboard/).
dashboard: $(INSTALLED)
	$(BIN)/python -m mta_lake.dashboard --port $(DASHBOARD_PORT)

# The dashboard's browser tests drive Debian's chromium: installed here when missing and run as root,
# otherwise (not root, or apt-get failed: offline, no Debian mirror) make test stops with the one line
# that says how; apt-get's own output goes to .venv/chromium-install.log.
chromium:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || { echo "installing Debian's chromium for the dashboard's browser tests"; \
		mkdir -p $(VENV); { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >$(VENV)/chromium-install.log 2>&1 || true; }
	@command -v chromium >/dev/null 2>&1 || { echo "make test: the dashboard's browser tests need Debian's chromium: sudo apt-get install -y chromium (as root: see $(VENV)/chromium-install.log)" >&2; exit 1; }

# The mart's BigQuery tests run dbt-bigquery against the emulator bqemulator, from a venv of their own
# (.venv-bigquery/: dbt-bigquery needs an older google-cloud-storage than the lock): built here when
# missing or when its pins changed, reused otherwise (.ci/bigquery-venv says how).
bigquery-venv:
	.ci/bigquery-venv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
