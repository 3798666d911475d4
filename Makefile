# The two commands: `make run` (broker + worker + sample alert, then keeps running) and `make test`.
# Both set up what they need: a virtualenv with the locked dependencies (requirements.lock, hashes
# checked), the package, the Kafka jars from Maven Central. `make lock` re-resolves the lock file.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JARS   := .cache/kafka/libs/.complete

.PHONY: install lock run test lint typecheck system-packages stop clean

install: $(STAMP) $(JARS)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade 'pip>=25.1'
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	@# -qq: setuptools warns on every editable install of a flat layout ("folders with the same name as
	@# your package may take precedence") — true of any checkout, nothing to act on; errors still show.
	$(BIN)/pip install -qq --no-deps -e .
	touch $@

# The project's dependencies and the dev group (PEP 735), for every platform, with hashes.
lock:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --group dev --universal --generate-hashes --python-version 3.11 -q -o requirements.lock
	@# The worker's dependencies alone, for the container image (ops/container/Containerfile).
	$(BIN)/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 -q -o requirements-runtime.lock

$(JARS): ops/kafka/pom.xml
	@# .cache holds only what this file rebuilds; a link there that leads nowhere (a moved or
	@# self-referencing checkout) would fail the copy with "Too many levels of symbolic links".
	@if [ -L .cache ] && ! [ -d .cache ]; then \
		echo ".cache is a symbolic link that leads to no directory ($$(readlink .cache)); replacing it with a directory"; \
		rm .cache; \
	fi
	cd ops/kafka && mvn -B -q dependency:copy-dependencies
	touch $@

# Debian packages some tests use as real peers (prometheus, alertmanager, chromium).
system-packages:
	@if [ -f ops/system-packages.sh ]; then bash ops/system-packages.sh; fi

run: install
	$(BIN)/crucial demo --stay

lint: $(STAMP)
	$(BIN)/ruff check alerts streams tests
	$(BIN)/ruff format --check alerts streams tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: install system-packages lint typecheck
	$(BIN)/pytest

stop:
	-$(BIN)/crucial dev broker stop

clean: stop
	rm -rf $(VENV) .cache var
