# The two commands of the README: `make demo` and `make test`. Both set up .venv themselves.
# Three distributions live here: the worker (.), the shared contract (contract/) and the producer
# client (client/); the local stack (devstack/) and the benchmarks (bench/) run from the tree.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick clean

$(STAMP): pyproject.toml contract/pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./contract -e ./client -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m devstack.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check worker contract client devstack tests bench
	$(BIN)/ruff format --check worker contract client devstack tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
