# auditbridge developer tasks. `make demo` and `make test` work on a fresh machine:
# both create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
PYTEST_WORKERS ?= 2

.PHONY: install demo test fuzz lint bench package clean

LINT_VENV := .venv-lint
LAMBDA_ARCH ?= arm64
LAMBDA_PYTHON ?= 3.13

$(STAMP): pyproject.toml plugins/okta/pyproject.toml plugins/generic_webhook/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,lake]' -e plugins/okta -e plugins/generic_webhook
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

# The long fuzzing profile: 20,000 mutated records through the Lambda handler, and the
# property tests (the webhook presets' among them) with the hypothesis profile `fuzz`.
# FUZZ_CASES=N to change the count.
FUZZ_CASES ?= 20000
fuzz: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q tests/test_fuzz_pipeline.py tests/test_fuzz_properties.py \
		plugins/generic_webhook/tests/test_webhook_fuzz.py --fuzz-cases $(FUZZ_CASES) --hypothesis-profile=fuzz

# cfn-lint and checkov live in their own venv: checkov's dependencies clash with the project's.
$(LINT_VENV)/.installed:
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet cfn-lint checkov
	touch $@

lint: $(STAMP) $(LINT_VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(LINT_VENV)/bin/cfn-lint deploy/template.yaml
	$(LINT_VENV)/bin/checkov --quiet --compact --skip-download -f deploy/template.yaml
	mkdir -p build && sed -e 's/Default: "false"  # lint: also checked with "true"/Default: "true"/' \
		-e 's/Default: ""  # lint: also checked with "okta"/Default: okta/' deploy/template.yaml > build/template-webhooks.yaml
	$(LINT_VENV)/bin/cfn-lint build/template-webhooks.yaml
	$(LINT_VENV)/bin/checkov --quiet --compact --skip-download -f build/template-webhooks.yaml

package: $(STAMP)
	$(BIN)/python deploy/package.py --arch $(LAMBDA_ARCH) --python-version $(LAMBDA_PYTHON)

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_lake.py
	$(BIN)/python bench/bench_destinations.py
	$(BIN)/python bench/bench_backfill.py

clean:
	rm -rf $(VENV) $(LINT_VENV) build dist .mypy_cache .ruff_cache
