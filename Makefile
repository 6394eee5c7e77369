# Everything a fresh machine needs, in two commands (see README.md):
#   make run    — install into .venv if needed, then run the bot (`python -m bot`)
#   make test   — install into .venv if needed, then lint and run the whole test suite
# TORCH picks the PyTorch build: the CPU wheel by default; e.g. TORCH="torch==2.13.0 --index-url <CUDA index>"
# for a GPU box (README.md, Quick start).

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run console worker test lint clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[all,dev]'
	$(PY) -m pip install --quiet 'Cython<3' wheel && $(PY) -m pip install --quiet --no-build-isolation youtokentome
	touch $(INSTALLED)

run: $(INSTALLED)
	$(PY) -m bot

console: $(INSTALLED)
	$(PY) -m bot console

worker: $(INSTALLED)
	$(PY) -m workers

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
