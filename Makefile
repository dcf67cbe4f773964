# Everything runs from the project's own virtual environment; nothing is installed by hand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: install demo up test lint typecheck template-check unit integration chaos bench train evaluate package clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The browser tests drive Debian's chromium (Playwright cannot download its own browser here) and
# inject axe-core (npm, the version package-lock.json pins) into the pages.
install: $(STAMP)
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	@test -f node_modules/axe-core/axe.min.js || npm ci --no-audit --no-fund --silent

## The whole chain on the sample photos: starts the local stack, routes every photo, stops.
demo: install
	$(BIN)/driver-routing demo

## The local stack in the foreground (Ctrl-C stops it).
up: install
	$(BIN)/driver-routing up

## Lint, types, template checks, then every test: the chaos run, then unit, infra, model, integration.
## The rest runs on two workers, a test file each at a time (pytest-xdist): most of its time is spent
## waiting on local stacks, so two files share the two cores; each file keeps its own stack and ports.
test: install lint typecheck template-check
	$(BIN)/pytest -m chaos -s --durations=5
	$(BIN)/pytest -m "not chaos" -n 2 --dist loadfile --durations=15

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy shared services driver_routing local bench model infra experiments

template-check: install
	$(BIN)/cfn-lint infra/template.yaml
	$(BIN)/checkov --quiet --compact -f infra/template.yaml --framework cloudformation --config-file .checkov.yaml

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest -m integration

chaos: install
	$(BIN)/pytest -m chaos -s --durations=5
	@cat .driver-routing/chaos.json

bench: install
	$(BIN)/driver-routing bench

## Training needs the `train` extra (torch on CPU); the committed model makes this optional.
## `make train DATASETS="datasets/reviews-<version> ..."` adds datasets exported from reviews.
train: install
	$(BIN)/pip install --quiet -e '.[dev,train]'
	$(BIN)/driver-routing train $(addprefix --add-dataset ,$(DATASETS))

evaluate: install
	$(BIN)/driver-routing evaluate --split test
	$(BIN)/driver-routing evaluate --data ../shared/data/photos

## One Lambda artifact per function, build/<fn>.zip: its handler's modules and its requirements' wheels.
package: install
	$(BIN)/python -m infra.packaging --out build

clean:
	rm -rf $(VENV) .driver-routing .pytest_cache .mypy_cache .ruff_cache build
