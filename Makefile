# The only commands a newcomer needs. Every target bootstraps .venv on its own.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test check lint format typecheck audit bench bench-deps browser-deps screenshots migrate worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements/dev.txt pyproject.toml
	# --no-deps: the lock is the whole set (requirements/overrides.txt says what it leaves out).
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Mail links point at the address served, unless SITECHAT_HTTP_PUBLIC_BASE_URL says otherwise.
run: $(STAMP)
	SITECHAT_HTTP_PUBLIC_BASE_URL="$${SITECHAT_HTTP_PUBLIC_BASE_URL:-http://$(HOST):$(PORT)}" \
		$(BIN)/sitechat serve --host $(HOST) --port $(PORT)

migrate: $(STAMP)
	$(BIN)/sitechat migrate

worker: $(STAMP)
	$(BIN)/sitechat worker

test: $(STAMP) browser-deps
	$(BIN)/ruff check sitechat tests migrations
	$(BIN)/ruff format --check sitechat tests migrations
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

check: test audit

lint: $(STAMP)
	$(BIN)/ruff check sitechat tests migrations bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format sitechat tests migrations bench
	$(BIN)/ruff check --fix sitechat tests migrations bench

audit: $(STAMP)
	$(BIN)/pip-audit --strict --require-hashes --disable-pip -r requirements/main.txt

bench: $(STAMP) bench-deps
	$(BIN)/python -m bench $(BENCH)

# wrk drives the HTTP benchmarks; python3.11-doc is the real site bench/crawl and bench/chat crawl;
# bench/retrieval and bench/answers crawl postgresql-doc-15 too.
bench-deps:
	@command -v wrk >/dev/null && test -d /usr/share/doc/python3.11/html && \
		test -d /usr/share/doc/postgresql-doc-15/html || \
		(apt-get update -qq && apt-get install -y -qq wrk python3.11-doc postgresql-doc-15)

# The widget's browser tests (tests/widget) and the crawler's rendering tests (tests/crawling)
# drive Debian's chromium; nothing downloads a browser.
browser-deps:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else echo "The browser tests need the Debian package 'chromium': apt-get install chromium" >&2; \
			exit 1; fi; }

# The widget's pictures in docs/img, taken anew by the browser tests that show those states.
screenshots: $(STAMP) browser-deps
	SITECHAT_WIDGET_SCREENSHOTS=docs/img $(BIN)/pytest tests/widget -q -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
