# Footfall: `make demo` and `make test` work on a fresh machine with Python 3.11+ and pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DAGSTER_HOME ?= $(CURDIR)/.local/dagster

.PHONY: install system-packages demo ui test fuzz bench lint clean

# The virtual environment, synced exactly to the lock file (uv from PyPI does the syncing).
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests drive: Chromium (browser tests of the Dagster UI, the beacon and
# the report). Installed only when missing.
system-packages:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium ; }

demo: install
	$(BIN)/footfall demo

# The Dagster UI on the demo lake (the runs `make demo` made are in the same instance).
ui: install
	DAGSTER_HOME=$(DAGSTER_HOME) \
	FOOTFALL_HASH_KEY="$${FOOTFALL_HASH_KEY:-$$(cat .local/demo-hash-key 2>/dev/null)}" \
	$(BIN)/dagster dev -m dagster_project.definitions -h 127.0.0.1 -p 3000

test: install system-packages
	$(BIN)/python -m pytest -q

# The property tests with fresh random examples, FUZZ times as many as `make test` draws
# (which draws the same ones every run). A failure prints the example and how to replay it.
FUZZ ?= 10
fuzz: install
	FOOTFALL_FUZZ=$(FUZZ) $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_properties.py tests/test_beacon_ingest.py

bench: install
	@command -v goaccess >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq goaccess ; }
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/parse_bench.py
	$(BIN)/python bench/report_bench.py
	$(BIN)/python bench/collector_bench.py

lint: install
	$(BIN)/ruff check .

# Regenerate the lock file after changing dependencies in pyproject.toml.
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) lake .bench .pytest_cache test-output
