# Gova: `make up` starts everything on embedded defaults, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up test test-deps lint format bench bench-text bench-actions bench-media install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "gova: installing dependencies into $(VENV) (first run, or pyproject.toml changed)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e '.[dev,image,audio]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/gova up

# Debian packages the media tests use: espeak-ng speaks their test sentences, and
# pocketsphinx-testdata holds the LibriVox clips the word error rate is measured on.
TEST_DEBS := espeak-ng pocketsphinx-testdata
test-deps:
	@command -v espeak-ng >/dev/null && test -d /usr/share/pocketsphinx/test/data/librivox || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_DEBS); }

test: $(STAMP) test-deps
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

bench-media: $(STAMP) test-deps
	$(BIN)/python -m bench.media_stage

bench-actions: $(STAMP)
	$(BIN)/python -m bench.actions

clean:
	rm -rf $(VENV) .gova .pytest_cache
