# Two commands do all the set-up on a fresh clone (only Python needed; a C compiler, when there,
# also builds the optional kernels of moderation/model/_kernels.c):
#   make serve   -> virtual environment, install, train on the embedded corpus if no bundle, then run the service
#   make test    -> virtual environment, install, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL_DIR ?= models

.PHONY: install serve score test lint bench bench-service train-full clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py moderation/model/_kernels.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

$(MODEL_DIR)/manifest.json: | $(VENV)/.installed
	$(BIN)/python train.py --out $(MODEL_DIR)

# "serve" trains the embedded bundle if there is none, then runs the service on the defaults
# (127.0.0.1:8000, SQLite file moderation.db here; MODERATION_* variables change them).
serve: $(VENV)/.installed $(MODEL_DIR)/manifest.json
	@echo "In another shell, make credentials (each secret is printed once):"
	@echo "  $(BIN)/moderation keys create --name cms --scopes score,submit,read"
	@echo "  $(BIN)/moderation moderators create --username admin --role admin"
	@echo "API: http://127.0.0.1:8000/v1 (document: /openapi.json)   moderator page: http://127.0.0.1:8000/ui"
	$(BIN)/python serve.py --model $(MODEL_DIR)

# Under CI=true the browser test must run, not skip: install Debian's chromium if it is missing.
test: $(VENV)/.installed
	@if [ "$$CI" = "true" ] && [ ! -x /usr/bin/chromium ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; fi
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

# Service figures of BENCHMARKS.md: serve.py under load (SQLite and PostgreSQL), batched scoring,
# concurrent moderators, kill -9 rounds. Needs the full bundle (make train-full) and PostgreSQL
# on 127.0.0.1:5432; each script starts its own server and throwaway database.
bench-service: $(VENV)/.installed
	$(BIN)/python bench/score_batch.py
	MODERATION_WORKERS=2 $(BIN)/python bench/score_batch.py --concurrency 8
	MODERATION_WORKERS=2 $(BIN)/python bench/load.py --database sqlite
	MODERATION_WORKERS=3 $(BIN)/python bench/load.py --database sqlite
	MODERATION_WORKERS=2 $(BIN)/python bench/load.py --database postgres
	$(BIN)/python bench/load.py --database sqlite --find-max
	MODERATION_WORKERS=2 $(BIN)/python bench/load.py --database sqlite --find-max
	MODERATION_WORKERS=2 $(BIN)/python bench/load.py --database postgres --find-max
	$(BIN)/python bench/moderators.py
	$(BIN)/python bench/crash.py --database sqlite
	$(BIN)/python bench/crash.py --database postgres

train-full: $(VENV)/.installed
	$(BIN)/python train.py --corpora ../shared/datasets --out $(MODEL_DIR)

clean:
	rm -rf $(VENV) $(MODEL_DIR) .pytest_cache .mypy_cache .ruff_cache
