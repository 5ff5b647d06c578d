# hotline: `make run` starts the service with a demo city; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test lint test-embedded test-production test-browser bench bench-pipeline clean

$(BIN)/hotline: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("hotline needs Python 3.11+") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(BIN)/hotline

run: $(BIN)/hotline
	$(BIN)/hotline db upgrade
	$(BIN)/hotline demo load
	$(BIN)/hotline run --port $(PORT)

lint: $(BIN)/hotline
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# SQLite + the in-process queue, without the browser tests.
test-embedded: $(BIN)/hotline
	$(BIN)/python -m pytest -m "not browser"

# The browser journeys (Debian's Chromium driven by Playwright), on SQLite + the in-process queue
# (mandatory when CI=true).
test-browser: $(BIN)/hotline
	$(BIN)/python -m pytest -m browser

# PostgreSQL + real Redis + real `hotline worker` processes (mandatory when CI=true).
test-production: $(BIN)/hotline
	HOTLINE_TEST_BACKEND=postgres $(BIN)/python -m pytest -m "not browser"

# Lint first; then the three runs side by side (SQLite, the browser journeys, PostgreSQL: the
# browser run waits on Chromium and the PostgreSQL run on its server, so three keep two cores busy),
# each one's output printed whole, pytest's summary included, when it ends; `make test` fails if any fails.
test: lint
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-embedded test-browser test-production

bench: $(BIN)/hotline
	$(BIN)/python bench/intake.py

# End-to-end latency: text -> acknowledgement, routing, the unit's SMS (issue 14), about 3 minutes.
bench-pipeline: $(BIN)/hotline
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
