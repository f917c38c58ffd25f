# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make dev    create .venv, then run Dagster (UI on http://127.0.0.1:3000) on embedded defaults
#   make test   create .venv, then lint, validate the definitions and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PORT ?= 3000

.PHONY: dev test lint format validate materialize mirror mart-rebuild clean

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
	DAGSTER_HOME=$(CURDIR) $(BIN)/dagster dev -h 127.0.0.1 -p $(PORT)

test: $(INSTALLED) lint validate
	$(BIN)/pytest

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
	$(BIN)/python -m mta_lake_tests.support.mirror --fixtures --port 8808

# make materialize WEEK=2017-05-27 [MTA_SITE_URL=...]: land one week from the command line, in this
# process, recorded in the local instance; the outcome (or the reason it failed) in one line.
materialize: $(INSTALLED)
	DAGSTER_HOME=$(CURDIR) $(BIN)/mta-lake materialize $(WEEK)

# make mart-rebuild: rebuild the whole ridership mart from the clean layer in the lake (dbt --full-refresh).
mart-rebuild: $(INSTALLED)
	$(BIN)/python -m mta_lake.core.mart.dbt_project

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
