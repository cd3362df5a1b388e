# partnerhub — the two set-up commands are `make demo` and `make test`.
# Everything else here is what they are made of.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: help venv lock infra-up infra-down infra-status up down env-file demo \
        test go-test lint format typecheck schemas unit integration clean bench-engine bench bench-store bench-portal ops-check

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

venv: $(INSTALLED) ## create .venv and install the pinned dependencies
$(INSTALLED): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing Python dependencies (pinned in constraints.txt) into $(VENV)"
	@$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test,dev]'
	@rm -f $(VENV)/.installed-* && touch $@

lock: ## re-pin constraints.txt from a fresh resolution of pyproject.toml
	@rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	@.lock-venv/bin/pip install -q --disable-pip-version-check -e '.[test,dev]'
	@{ sed -n '1,2p' constraints.txt; .lock-venv/bin/pip freeze --exclude-editable | grep -v '^partnerhub'; } > constraints.new
	@mv constraints.new constraints.txt && rm -rf .lock-venv && echo "constraints.txt updated"

infra-up: venv ## start Kafka, FerretDB, the OIDC provider, Mailpit (SMTP 1025, inbox http://127.0.0.1:8025/) and Prometheus on 127.0.0.1 (fetched and built on first use)
	@deploy/local/infra.sh up

infra-down: ## stop exactly the infrastructure processes infra-up started
	@deploy/local/infra.sh down

infra-status: ## say whether the local infrastructure runs
	@deploy/local/infra.sh status

env-file: venv
	@$(PY) -m shared.access init-env .env
	@$(PY) -m demo.people init .env .local/oidc/realm.json

up: env-file infra-up ## infrastructure plus every service, in the background (logs in .local/logs; mail inbox http://127.0.0.1:8025/)
	@deploy/local/services.sh up

down: ## stop the services and the infrastructure that `make up` started
	@deploy/local/services.sh down
	@deploy/local/infra.sh down

DEMO_ARGS ?=
demo: up ## the main job: a simulated quarter through the running platform, self-checked (DEMO_ARGS="--partners N --deals M --seed S")
	@$(PY) -m demo $(DEMO_ARGS)
	@echo "The platform keeps running for you to explore; stop it with: make down"

lint: venv ## ruff lint and format check
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

format: venv ## apply ruff's formatting and safe fixes
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

typecheck: venv ## mypy, strict
	@$(VENV)/bin/mypy

schemas: venv ## regenerate docs/events/*.schema.json from the event models
	@$(PY) -m shared.schemas write

unit: venv ## unit tests only (no infrastructure)
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS)

go-test: ## the Go tests of the local FerretDB and OIDC provider programs (deploy/local/ferretdb, deploy/local/oidc)
	@cd deploy/local/ferretdb && go vet . && go test -count=1 .
	@cd deploy/local/oidc && go vet . && go test -count=1 .

# `make test` and `make bench` run on instances of the local infrastructure of their own
# (fresh data, other ports: deploy/local/infra.sh), never on the platform's of `make up`.
test: lint typecheck go-test ## the whole suite: lint, types, Go tests, unit, integration (on an infrastructure instance of its own, started and stopped)
	@PARTNERHUB_INSTANCE=test deploy/local/with-infra.sh --fresh $(PY) -m pytest $(PYTEST_ARGS)

BENCH_ARGS ?=
bench-engine: venv ## throughput of the pure commission engine (BENCH_ARGS="--partners N --deals M")
	@$(PY) -m bench.engine $(BENCH_ARGS)

bench: venv ## end-to-end benchmark against the raw Kafka/MongoDB ceilings (BENCH_ARGS="--deals N …")
	@PARTNERHUB_INSTANCE=bench deploy/local/with-infra.sh --fresh $(PY) -m bench.pipeline $(BENCH_ARGS)

bench-store: venv ## the store's operations alone, as a steady rate makes the services do them (BENCH_ARGS="--batch-sizes 100,1000 …")
	@PARTNERHUB_INSTANCE=bench deploy/local/with-infra.sh --fresh $(PY) -m bench.store $(BENCH_ARGS)

bench-portal: venv ## the portal's page times at N partners (BENCH_ARGS="--partners 1000 --deals 20000 --requests 400")
	@PARTNERHUB_INSTANCE=bench deploy/local/with-infra.sh --fresh $(PY) -m bench.portal $(BENCH_ARGS)

clean: ## remove local state (data, logs) and the virtual environment
	@deploy/local/services.sh down || true
	@deploy/local/infra.sh down || true
	@PARTNERHUB_INSTANCE=test deploy/local/infra.sh down || true
	@PARTNERHUB_INSTANCE=bench deploy/local/infra.sh down || true
	rm -rf .local $(VENV)

ops-check: ## Prometheus rules and their tests, the k8s overlays rendered and validated, checkov (installs its tools once)
	@deploy/check.sh
