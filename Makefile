# The two set-up commands of the README: `make demo` and `make test`.
# Each creates (or reuses) a virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# Bytecode, as a non-editable install has it (PYTHONDONTWRITEBYTECODE may be set).
	$(BIN)/python -m compileall -q relief_kit
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/relief-kit demo

test: $(STAMP)
	$(BIN)/ruff check relief_kit tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m relief_kit.tools.bench

clean:
	rm -rf $(VENV) build *.egg-info
