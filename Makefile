# Set-up and everyday commands. Every target creates the virtual environment on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: run test lint imports typecheck check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: start the gateway with the demo identities on http://127.0.0.1:8080 (ARGS="..." adds options)
run: $(STAMP)
	$(BIN)/ksz-gateway serve --demo $(ARGS)

## test: the whole test suite (PostgreSQL tests run when KSZ_TEST_POSTGRES_URL is set)
test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway

## imports: the layers of docs/architecture.md, checked by import-linter
imports: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint imports typecheck test

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
