# Two commands do all the set-up on a fresh clone (only Python needed):
#   make serve   -> virtual environment, install, train on the embedded corpus if no bundle, then score an example
#   make test    -> virtual environment, install, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL_DIR ?= models

.PHONY: install serve score test lint bench train-full clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

$(MODEL_DIR)/manifest.json: | $(VENV)/.installed
	$(BIN)/python train.py --out $(MODEL_DIR)

# Until the HTTP service lands (issue 4), "serve" trains if needed and scores an example.
serve: $(VENV)/.installed $(MODEL_DIR)/manifest.json
	$(BIN)/moderation --model $(MODEL_DIR) score "Ty k*rwo, wynocha z tym artykułem!" "Zgadzam się z autorem, dobry tekst."

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check moderation tests bench train.py
	$(BIN)/mypy

# Quality, evasion and speed figures of BENCHMARKS.md (needs ../shared/datasets and a full bundle).
bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/quality.py --cv
	$(BIN)/python bench/evasion.py
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/memory.py

train-full: $(VENV)/.installed
	$(BIN)/python train.py --corpora ../shared/datasets --out $(MODEL_DIR)

clean:
	rm -rf $(VENV) $(MODEL_DIR) .pytest_cache .mypy_cache .ruff_cache
