# riskstream — developer entry points. `make demo` and `make test` work on a fresh clone:
# they build .venv from the pinned lock files when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo-out

.PHONY: demo test lint format bench services services-stop service-deps clean

$(VENV)/.installed: requirements.lock requirements-dev.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m riskstream.demo --out $(DEMO_DIR)

# Everything the test suite needs is set up here: venv, lint, the service binaries
# (redis-server, Kafka jars); the test fixtures start and stop the servers themselves.
test: $(VENV)/.installed service-deps
	$(VENV)/bin/ruff check riskstream tests bench
	$(VENV)/bin/ruff format --check riskstream tests bench
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix riskstream tests bench
	$(VENV)/bin/ruff format riskstream tests bench

service-deps:
	@bash scripts/services.sh deps

services: $(VENV)/.installed service-deps
	@bash scripts/services.sh start

services-stop:
	@bash scripts/services.sh stop

clean:
	rm -rf $(VENV) $(DEMO_DIR) .services build *.egg-info
