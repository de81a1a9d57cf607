# auditbridge developer tasks. `make demo` and `make test` work on a fresh machine:
# both create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
PYTEST_WORKERS ?= 2

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml plugins/okta/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,lake]' -e plugins/okta
	touch $(STAMP) $(DEMO_STAMP)

# The demo needs only the framework, the lake extra and the Okta plugin: a faster first install.
$(DEMO_STAMP): pyproject.toml plugins/okta/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[lake]' -e plugins/okta
	touch $(DEMO_STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_lake.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache
