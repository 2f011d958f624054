# Budgetline: `make run` serves GraphiQL with demo data, `make test` lints and tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest schema bench fuzz clean reset

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	BUDGETLINE_LOG_FORMAT=$${BUDGETLINE_LOG_FORMAT:-text} \
	$(BIN)/budgetline serve --demo --host $${BUDGETLINE_HOST:-127.0.0.1} --port $${BUDGETLINE_PORT:-8000}

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# A larger fuzzing campaign than the one in `make test` (3 x N generated operations).
fuzz: $(STAMP)
	BUDGETLINE_FUZZ_EXAMPLES=$${BUDGETLINE_FUZZ_EXAMPLES:-5000} $(BIN)/pytest -s tests/test_fuzz.py

# schema.graphql (the GraphQL schema) and db/schema.sql (what the migrations make of a database).
schema: $(STAMP)
	$(BIN)/strawberry export-schema schema:schema --output schema.graphql
	$(BIN)/python -m db.schema_dump

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The virtualenv and caches; the data stays.
clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The data: the embedded PostgreSQL and demo keys of `make run`, and the test server's. The next
# `make run` starts from a fresh demo (stop a running `make run` first).
reset:
	rm -rf .budgetline .budgetline-test
