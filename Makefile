# rrsis-bench: `make demo` runs the end-to-end demo, `make test` runs lint, types and tests.
# Both create .venv on first use and install the package from this checkout.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 first: where the tests run this exact version is a local CPU build, while the
	# torch extra's range alone (torch>=2.1) would pull a multi-GB CUDA build from PyPI.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[torch,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rrsis-bench demo --out demo-output

lint: $(STAMP)
	$(BIN)/ruff check rrsis_bench tests bench
	$(BIN)/ruff format --check rrsis_bench tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -q --doctest-modules rrsis_bench tests

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/build.py
	$(BIN)/python bench/score.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache build *.egg-info
