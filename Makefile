# The two commands a newcomer types: `make run` and `make test`. Each builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench corpus clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "briefbot needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/briefbot run

test: $(STAMP)
	$(BIN)/ruff check bot briefings tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Rebuild the default corpus from the raw seed articles (needs ../shared).
corpus: $(STAMP)
	$(BIN)/briefbot --corpus corpus corpus import ../shared/seeds

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
