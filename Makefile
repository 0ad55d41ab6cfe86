# make run: install, migrate and serve on http://127.0.0.1:8000 (PORT overrides).
# make test: install and run the tests (TEST_DATABASE_URL / TEST_REDIS_URL for PostgreSQL / Redis).
# make test-external: the tests that need programs from outside Python (tests/external/):
#   Debian's chromium (Swagger UI in a browser) and Redocly CLI from npm (the spec's lint).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: install run test test-external lint clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: install
	$(BIN)/flask --app wsgi db upgrade
	PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# pytest exits with 5 when it collects no test: that is not a failure.
test: install
	$(BIN)/pytest --ignore=tests/external; status=$$?; if [ $$status -eq 5 ]; then exit 0; else exit $$status; fi

# A missing program fails its test, never skips it (.ci/run installs both).
test-external: install
	$(BIN)/pytest tests/external

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Benchmarks (bench/README.md); options go through ARGS, e.g. make bench ARGS="--duration 5".
# BENCH_DATABASE_URL=postgresql://…/bench runs them on PostgreSQL (that database is emptied).
# make bench: gunicorn + wrk scenarios; make bench-scale: routes at 1,000 vs 1,000,000 rows;
# make bench-logins: send latency alone and during a storm of logins;
# make bench-events: 10,000 open streams: memory, delivery latency, REST and logins beside them.
ARGS ?=

.PHONY: bench bench-scale bench-logins bench-events

bench: install
	$(BIN)/python -m bench.http_bench $(ARGS)

bench-scale: install
	$(BIN)/python -m bench.scale_bench $(ARGS)

bench-logins: install
	$(BIN)/python -m bench.login_storm $(ARGS)

bench-events: install
	$(BIN)/python -m bench.events_bench $(ARGS)
