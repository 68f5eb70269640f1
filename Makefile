# Set-up and everyday commands. Every target creates the virtual environment on first use.
#
# The interpreter: Python 3.11, 3.12 or 3.13, the first of python3.11, python3.12, python3.13, python3 (then pyenv's
# installs) that runs and is one of those; `make test PYTHON=python3.13` names one. VENV=.venv-3.13 keeps a second
# environment beside the first. The environment is made again when the interpreter behind it changes.
SUPPORTED := 3.11, 3.12 or 3.13
PROBE := import sys; print(sys.executable) if (3, 11) <= sys.version_info[:2] <= (3, 13) else sys.exit(1)
PYENV_VERSIONS := $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions
CANDIDATES := python3.11 python3.12 python3.13 python3 \
	$(foreach v,11 12 13,$(lastword $(sort $(wildcard $(PYENV_VERSIONS)/3.$(v).*/bin/python3.$(v)))))
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for c in $(CANDIDATES); do $$c -c '$(PROBE)' 2>/dev/null && break; done)
endif
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
INTERPRETER := $(VENV)/.interpreter
ARGS ?=

.PHONY: run test lint imports typecheck check bench clean FORCE

# Which interpreter (path and version) the environment was made with. Checked on every command; the file is
# rewritten, and the environment made afresh, only when that interpreter changed, so the stamp below sees it.
$(INTERPRETER): FORCE
	@if [ -z "$(PYTHON)" ]; then \
	  echo "No Python $(SUPPORTED) found (tried $(strip $(CANDIDATES))):" \
	       "install one, or name it with PYTHON=/path/to/python3.13" >&2; exit 1; fi
	@version="$$($(PYTHON) -c 'import sys; print(sys.version.split()[0])' 2>&1)" || { \
	  echo "PYTHON=$(PYTHON) does not run: $$(echo "$$version" | head -n 1)" >&2; exit 1; }; \
	want="$$($(PYTHON) -c '$(PROBE)')" || { \
	  echo "PYTHON=$(PYTHON) is Python $$version; the gateway needs Python $(SUPPORTED)" >&2; exit 1; }; \
	want="$$want $$version"; \
	if [ "$$(cat $@ 2>/dev/null)" != "$$want" ] || ! $(BIN)/python -c '' 2>/dev/null; then \
	  echo "making $(VENV) with Python $$version ($${want% *})"; \
	  $(PYTHON) -m venv --clear $(VENV) && echo "$$want" > $@; \
	fi

$(STAMP): pyproject.toml $(INTERPRETER)
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

## bench: every operation beside the echo, in one run (a few minutes); PostgreSQL too when KSZ_TEST_POSTGRES_URL
## is set; wrk is used when installed (apt-get install -y wrk). ARGS="--quick", "--breakdown", "--postgres URL"...
bench: $(STAMP)
	$(BIN)/python bench/bench_soap.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
