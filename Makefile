# Two commands: `make run` (set up everything, then serve) and `make test`.
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export DJANGO_SETTINGS_MODULE := siganteng.settings

.PHONY: run test test-only install install-dev lint format schema docs screenshots migrate seed bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-local-embed.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-local-embed.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Set up (virtualenv, install, migrate, seed) and run the API and the task cluster
## on http://127.0.0.1:8000 until Ctrl-C.
## OUTBOUND_ALLOW_PRIVATE: the demo's tools are served by this same app on 127.0.0.1.
RUN_ENV = DEBUG=$${DEBUG:-true} OUTBOUND_ALLOW_PRIVATE=$${OUTBOUND_ALLOW_PRIVATE:-true} \
	PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://127.0.0.1:$${PORT:-8000}}
run: install
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	$(RUN_ENV) $(BIN)/python manage.py seed
	$(RUN_ENV) exec $(BIN)/python manage.py serve --host 127.0.0.1 --port $${PORT:-8000}

## Install what the tests need and run the whole suite.
test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-only:
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install-dev
	SECRET_KEY=schema-check $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

## Build the documentation site (docs/, mkdocs.yml) into var/site/; a broken link fails.
docs: install-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

## Retake the documentation's screenshots with the browser test (needs /usr/bin/chromium).
screenshots: install-dev
	DOCS_SCREENSHOTS=docs/assets/screenshots $(BIN)/python -m pytest siganteng/tests/test_docs_screenshots.py

migrate: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput

seed: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed

bench: install-dev
	SECRET_KEY=bench $(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) var
