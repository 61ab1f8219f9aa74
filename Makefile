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
        rollback seed-policies check-policies policy-table policy-history explain send-mail openapi \
        bench bench-authz clean create-user verify-user set-role revoke-sessions disable-user \
        enable-user timing chaos mutation mutation-retest

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-20s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen
	@touch $@

install: $(VENV)/.installed ## Create .venv from the lock file

run: install ## Serve the API (embedded PostgreSQL unless DATABASE_URL is set; RELOAD=1 reloads on code changes)
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

seed-policies: install ## Load policies/policy.csv into the database: make seed-policies REASON="why" (DATABASE_URL)
	$(BIN)/python -m scripts.seed_policies $${REASON:+--reason "$$REASON"} $(ARGS)

check-policies: install ## Exit 1 if the database's policy differs from policies/, 2 if the file is refused (DATABASE_URL)
	$(BIN)/python -m scripts.seed_policies --check $(ARGS)

policy-table: install ## Who may do what, computed by the enforcer: ARGS="--policy FILE --format markdown|csv"
	$(BIN)/python -m scripts.policy_table $(ARGS)

policy-history: install ## Applied policy changes, newest first: version, time, reason, diff (DATABASE_URL)
	$(BIN)/python -m scripts.policy_history $(ARGS)

explain: install ## Why a user may or may not: make explain USER=<email> ORG=<id>|WEBSITE=<id> PERMISSION=<object:action>
	@test "$(origin USER)" = "command line" -a -n "$(PERMISSION)" -a -n "$(ORG)$(WEBSITE)" || { \
	  echo 'usage: make explain USER=<email> ORG=<id>|WEBSITE=<id> PERMISSION=<object:action>'; exit 2; }
	$(BIN)/python -m scripts.explain --user "$$USER" $(if $(ORG),--org "$(ORG)") \
	  $(if $(WEBSITE),--website "$(WEBSITE)") "$(PERMISSION)"

# Admin commands (scripts/admin.py): one transaction each, audited with the actor admin-cli.
need-email = @test -n "$(EMAIL)" || { echo 'usage: make $@ EMAIL=<email>$(1)'; exit 2; }

create-user: install ## Verified account with its organization: make create-user EMAIL=<email> [ARGS=--password-stdin]
	$(call need-email, [ARGS=--password-stdin])
	$(BIN)/python -m scripts.admin create-user "$(EMAIL)" $(ARGS)

verify-user: install ## Mark an account's email verified: make verify-user EMAIL=<email>
	$(need-email)
	$(BIN)/python -m scripts.admin verify-user "$(EMAIL)"

set-role: install ## Organization role, last-admin rule kept: make set-role ORG=<id> EMAIL=<email> ROLE=admin|user
	@test -n "$(ORG)" -a -n "$(EMAIL)" -a -n "$(ROLE)" || { \
	  echo 'usage: make set-role ORG=<id> EMAIL=<email> ROLE=admin|user'; exit 2; }
	$(BIN)/python -m scripts.admin set-role --org "$(ORG)" "$(EMAIL)" "$(ROLE)"

revoke-sessions: install ## End every login of an account: make revoke-sessions EMAIL=<email>
	$(need-email)
	$(BIN)/python -m scripts.admin revoke-sessions "$(EMAIL)"

disable-user: install ## End every login and refuse logging in: make disable-user EMAIL=<email>
	$(need-email)
	$(BIN)/python -m scripts.admin disable-user "$(EMAIL)"

enable-user: install ## Let a disabled account log in again: make enable-user EMAIL=<email>
	$(need-email)
	$(BIN)/python -m scripts.admin enable-user "$(EMAIL)"

send-mail: install ## Run the outbox sender alone (DATABASE_URL, SMTP_*)
	$(BIN)/python -m scripts.send_mail

openapi: install ## Write the OpenAPI document to docs/openapi.json (commit it; CI fails when it is stale)
	$(BIN)/python -m scripts.openapi

bench: install ## API throughput against a floor app, 1e3 and 1e6 websites (BENCH_DATABASE_URL; needs wrk)
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk (Debian's package)"; exit 2; }
	$(BIN)/python -m scripts.benchmarks.api $(BENCH_ARGS)

bench-authz: install ## Authorization benchmark at 1e3, 1e5, 1e6 assignments (BENCH_DATABASE_URL)
	$(BIN)/python -m scripts.benchmarks.authz

timing: install ## Register, resend and forgot-password: medians with and without an account (BENCH_DATABASE_URL)
	$(BIN)/python -m scripts.benchmarks.timing $(TIMING_ARGS)

chaos: install ## Failure scenarios in full, each on its own PostgreSQL cluster; prints a summary
	$(BIN)/python -m scripts.chaos $(CHAOS_ARGS)

mutation: install ## Mutation testing of the security code: score and survivors (TEST_DATABASE_URL; long)
	$(BIN)/mutmut run --max-children 2
	$(BIN)/python -m scripts.mutation_report

mutation-retest: install ## Retest the mutants the last run did not catch (after adding tests)
	$(BIN)/python -m scripts.mutation_report --survivors | xargs -r $(BIN)/mutmut run --max-children 2
	$(BIN)/python -m scripts.mutation_report

clean: ## Remove the virtual environments and local data
	rm -rf $(VENV) $(TOOLS) .data .mypy_cache .ruff_cache mutants
