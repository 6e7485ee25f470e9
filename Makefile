# The README's two commands, `make demo` and `make test`, and `make check`.
#
# Each creates .venv with Python 3.11 when it is missing and (re)installs the package
# with its dev extras (`make test` adds the spark extra) when pyproject.toml is newer than the stamp file, so a re-run
# starts at once. Override the interpreter with `make PYTHON=/path/to/python3.11 ...`.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The whole suite also needs the spark extra (the DuckDB/Spark parity test); the demo does not.
SPARK_STAMP := $(VENV)/.installed-spark
DEMO_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test check

## demo: set up, build the demo index (once) and serve the API and review UI on 127.0.0.1:8080
demo: $(STAMP)
	$(BIN)/mpi demo $(DEMO_ARGS)

## test: set up and run the whole test suite (pyproject's addopts make it quiet, like -q)
test: $(SPARK_STAMP)
	$(BIN)/python -m pytest

## check: set up and run the fast tests: everything except the tests marked slow, one worker a CPU (pytest-xdist)
check: $(STAMP)
	$(BIN)/python -m pytest -m 'not slow' -n auto

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "error: $(PYTHON) is missing or older than Python 3.11; run: make PYTHON=/path/to/python3.11 $(MAKECMDGOALS)" >&2; \
		exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $@
