# Every target sets itself up: a fresh machine needs only Python 3.11 and pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help demo test lint generate conformance-pack package rdk deploy bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP) ## evaluate the built-in demo estate (moto, no AWS account); writes out/
	$(BIN)/lambda-vpc-rules demo --out out

test: $(STAMP) lint ## lint, then run the test suite on every core (pytest-xdist; ARGS="-n 0" runs it serially)
	$(BIN)/python -m pytest -n auto --dist worksteal $(ARGS)

lint: $(STAMP) ## ruff
	$(BIN)/ruff check src tests rules benchmarks

bench: $(STAMP) ## API calls, time, memory at 1k/2k/10k functions and of an organization scan (about 15 min; ARGS=--one-account skips the latter); writes docs/benchmarks.md
	$(BIN)/python benchmarks/bench.py $(ARGS)

generate: $(STAMP) ## regenerate rules/*/ (parameters.json, handlers), src/lambda_vpc_rules/templates/ and its copies conformance-pack.yaml and rdk_config/, README rule table
	$(BIN)/python -m lambda_vpc_rules.tooling.packaging generate

conformance-pack: generate ## (re)generate conformance-pack.yaml (top level), with everything generated beside it

package: $(STAMP) ## build one Lambda bundle per rule under dist/ (handler, core, pinned rdklib)
	$(BIN)/python -m lambda_vpc_rules.tooling.packaging package dist

rdk: $(STAMP) ## vendor the bundle contents into each rules/ folder, for `cd rules && rdk deploy --all`
	$(BIN)/python -m lambda_vpc_rules.tooling.packaging rdk rules

deploy: $(STAMP) ## deploy: make deploy BUCKET=... [ARGS="--regions us-east-1,eu-west-1 --organization ..."]
	$(BIN)/lambda-vpc-rules deploy --bucket "$(BUCKET)" $(ARGS)

clean: ## remove the virtual environment and outputs
	rm -rf $(VENV) out dist .pytest_cache rules/*/lambda_vpc_rules rules/*/rdklib rules/*/rdklib-*.dist-info
