# Trading Signals: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
# The PostgreSQL suite's Redis database while `make test` runs it beside the SQLite one.
TEST_REDIS_URL_SIDE ?= redis://127.0.0.1:6379/1
TEST_REDIS_URL_POSTGRES ?= $(TEST_REDIS_URL)
BENCH_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/bench
# make prod-check's own Redis database (it writes there) and, when set, its own SQL database.
PROD_CHECK_REDIS_URL ?= redis://127.0.0.1:6379/15
PROD_CHECK_DATABASE_URL ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install chromium run migrate test test-sqlite test-postgres test-mongodb lint format migrations bench nginx prod prod-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): requirements/base.txt requirements/dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned requirements

chromium: ## Install Debian's chromium and chromium-driver for the admin's browser tests (once)
	@bash scripts/install_chromium.sh >/dev/null || echo "Chromium is not installed: the browser tests (signals/tests/browser) will say why they skip."

migrate: install ## Apply migrations to the configured store
	$(PY) manage.py migrate --noinput

run: migrate ## Set up, then serve the API, /ws and the feed on http://127.0.0.1:8000
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py serve --bind 127.0.0.1 --port 8000 --ignore-market-hours

nginx: ## Install Debian's nginx (scripts/install_nginx.sh) when /usr/sbin/nginx is missing
	sh scripts/install_nginx.sh

prod: install nginx ## The production set on http://127.0.0.1:8080: nginx, 2 servers, the feed, Celery worker and beat (needs REDIS_URL)
	$(PY) -m deploy.prod

prod-check: install nginx ## Start the production set on free ports and check it through nginx (about 30 s)
	env -u DATABASE_URL -u MONGODB_URL REDIS_URL=$(PROD_CHECK_REDIS_URL) $(PY) -m deploy.check \
		$(if $(PROD_CHECK_DATABASE_URL),--database-url $(PROD_CHECK_DATABASE_URL))

test: install ## Set up, run make lint, then the whole suite on SQLite and PostgreSQL side by side (and MongoDB if MONGODB_URL), then make prod-check
	$(MAKE) --no-print-directory lint
	@# Side by side: each suite spends much of its time waiting on the servers, feeds and
	@# workers it starts. Each has a Redis database of its own (the suites flush theirs), and
	@# each one's output is printed whole when it ends.
	$(MAKE) --no-print-directory --jobs=2 --output-sync=target test-sqlite test-postgres \
		TEST_REDIS_URL_POSTGRES=$(TEST_REDIS_URL_SIDE)
	$(MAKE) --no-print-directory test-mongodb
	$(MAKE) --no-print-directory prod-check

test-sqlite: install chromium ## The suite on SQLite
	@echo "== tests on SQLite =="
	env -u DATABASE_URL -u MONGODB_URL REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install chromium ## The suite on PostgreSQL ($$POSTGRES_TEST_URL)
	@echo "== tests on PostgreSQL =="
	env -u MONGODB_URL DATABASE_URL=$(POSTGRES_TEST_URL) REDIS_URL=$(TEST_REDIS_URL_POSTGRES) $(PY) -m pytest $(PYTEST_ARGS)

test-mongodb: install ## The suite on MongoDB when MONGODB_URL is set (docs/mongodb.md)
	@if [ -n "$$MONGODB_URL" ]; then \
		echo "== tests on MongoDB =="; \
		REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS); \
	else \
		echo "MongoDB server not tested: MONGODB_URL is not set (the MQL compile and mongomock tests ran in test-sqlite)."; \
	fi
	@if docker compose version >/dev/null 2>&1; then \
		docker compose -f deploy/compose.yaml config --quiet && echo "deploy/compose.yaml: valid"; \
	else \
		echo "deploy/compose.yaml not checked by docker compose config: the docker compose plugin is not installed (trading_signals/tests/test_deploy.py read it in the suite)."; \
	fi

lint: install ## ruff, mypy, the import contracts and cycles, and both migration sets up to date
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	env -u MONGODB_URL $(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) scripts/check_import_cycles.py
	env -u MONGODB_URL $(PY) manage.py makemigrations --check --dry-run
	MONGODB_URL=mongodb://127.0.0.1:27017 $(PY) manage.py makemigrations_mongo --check --dry-run

format: install ## Apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations: install ## Regenerate both migration sets (SQL and MongoDB) so they never drift
	env -u MONGODB_URL $(PY) manage.py makemigrations
	MONGODB_URL=mongodb://127.0.0.1:27017 $(PY) manage.py makemigrations_mongo

BENCHES := parser ingest api feed ws latency instruments options

bench: install ## Run every benchmark in bench/ (needs PostgreSQL and Redis as for make test)
	@for name in $(BENCHES); do $(MAKE) --no-print-directory bench-$$name || exit 1; done

bench-ws: nginx  # variant n runs behind nginx

bench-%: install ## Run one benchmark: bench-parser, bench-ingest, bench-api, bench-feed, bench-ws, bench-latency, bench-instruments, bench-options
	@echo "== bench/$* =="
	REDIS_URL=$(TEST_REDIS_URL) BENCH_POSTGRES_URL=$(BENCH_POSTGRES_URL) $(PY) bench/$*/run.py
