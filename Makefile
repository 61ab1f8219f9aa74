# BlokID backend. `make run` serves, `make test` tests; `make` lists every target.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.8
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install run test test-fast lint check-format format typecheck generate-migration upgrade \
        rollback seed-policies check-policies policy-table send-mail bench bench-authz chaos clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-20s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen
	@touch $@

install: $(VENV)/.installed ## Create .venv from the lock file

run: install ## Serve the API (embedded PostgreSQL unless DATABASE_URL is set)
	$(BIN)/python -m scripts.serve

test: install ## The whole test suite, in parallel, against real PostgreSQL
	$(BIN)/python -m pytest -n auto -p no:cacheprovider $(PYTEST_ARGS)

lint: install ## Ruff
	$(BIN)/ruff check app scripts tests migrations

check-format: install ## Black, checking only
	$(BIN)/black --check --quiet app scripts tests migrations

format: install ## Black and Ruff's import sorting, rewriting files
	$(BIN)/ruff check --select I --fix app scripts tests migrations
	$(BIN)/black --quiet app scripts tests migrations

typecheck: install ## mypy, strict
	$(BIN)/mypy app scripts

generate-migration: install ## New migration from the models: make generate-migration m="what changed"
	@test -n "$(m)" || (echo 'usage: make generate-migration m="what changed"' && exit 2)
	$(BIN)/alembic revision --autogenerate -m "$(m)"

upgrade: install ## Apply every migration (DATABASE_URL)
	$(BIN)/alembic upgrade head

rollback: install ## Undo the last migration (DATABASE_URL)
	$(BIN)/alembic downgrade -1

seed-policies: install ## Load policies/policy.csv into the database (DATABASE_URL)
	$(BIN)/python -m scripts.seed_policies

check-policies: install ## Exit 1 if the database's policy differs from policies/ (DATABASE_URL)
	$(BIN)/python -m scripts.seed_policies --check

policy-table: install ## Print the who-may-do-what table, computed by the enforcer
	$(BIN)/python -m scripts.policy_table

send-mail: install ## Run the outbox sender alone (DATABASE_URL, SMTP_*)
	$(BIN)/python -m scripts.send_mail

bench: install ## API throughput against a floor app, 1e3 and 1e6 websites (BENCH_DATABASE_URL; needs wrk)
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk (Debian's package)"; exit 2; }
	$(BIN)/python -m scripts.benchmarks.api $(BENCH_ARGS)

bench-authz: install ## Authorization benchmark at 1e3, 1e5, 1e6 assignments (BENCH_DATABASE_URL)
	$(BIN)/python -m scripts.benchmarks.authz

chaos: install ## Failure scenarios in full, each on its own PostgreSQL cluster; prints a summary
	$(BIN)/python -m scripts.chaos $(CHAOS_ARGS)

clean: ## Remove the virtual environments and local data
	rm -rf $(VENV) $(TOOLS) .data .mypy_cache .ruff_cache
