# Gova: `make up` starts everything on embedded defaults, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up test lint format bench bench-text bench-actions install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "gova: installing dependencies into $(VENV) (first run, or pyproject.toml changed)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/gova up

test: $(STAMP)
	$(BIN)/ruff check gova tests bench
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check gova tests bench
	$(BIN)/ruff format --check gova tests bench

format: $(STAMP)
	$(BIN)/ruff format gova tests bench
	$(BIN)/ruff check --fix gova tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-text: $(STAMP)
	$(BIN)/python -m bench.text_stage

bench-actions: $(STAMP)
	$(BIN)/python -m bench.actions

clean:
	rm -rf $(VENV) .gova .pytest_cache
