# Self-documenting Makefile: `make help` lists the targets.
# Two commands set everything up on a fresh machine with Python 3.11+:
#   make demo   # creates .venv, installs, writes a full demo report on synthetic data
#   make test   # runs the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TSTAMP := $(VENV)/.installed-test-stamp
DEMO   := reports/demo
export MPLBACKEND := Agg

.DEFAULT_GOAL := help
.PHONY: help install demo test lab lint dictionary bench bench-peers bench-r simulate clean portal

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv \
	  && $(BIN)/python -m uv pip install --quiet --python $(BIN)/python --compile-bytecode -e . ruff \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check -e . ruff
	@touch $(STAMP)

# The test extra (pytest, hypothesis, lifelines): only `make test` needs it.
$(TSTAMP): $(STAMP)
	@$(BIN)/python -m uv pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[test]' \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(TSTAMP)

install: $(STAMP) ## create .venv (if missing) and install the package with its dependencies

demo: $(STAMP) ## synthetic data -> validation -> overview, outcomes/effects and teaching reports
	$(BIN)/evaluation synth --children 3000 --municipalities 30 --seed 1 --out $(DEMO)/extract
	$(BIN)/evaluation validate $(DEMO)/extract/episodes.csv $(DEMO)/extract/placements.csv \
	  $(DEMO)/extract/followups.csv $(DEMO)/extract/referrals.csv --out $(DEMO)/data
	$(BIN)/evaluation report notebooks/01-overview.ipynb --data $(DEMO)/data \
	  -p municipality 0580 --out $(DEMO)
	$(BIN)/evaluation report notebooks/02-outcomes-and-effects.ipynb --data $(DEMO)/data \
	  --out $(DEMO)
	$(BIN)/evaluation report notebooks/03-teaching-confounding.ipynb --data $(DEMO)/extract \
	  --out $(DEMO)
	$(BIN)/evaluation report notebooks/04-child-perspective.ipynb --data $(DEMO)/data \
	  -p municipality 0580 --out $(DEMO)
	$(BIN)/evaluation index $(DEMO)
	@echo ""
	@echo "Demo reports: $(CURDIR)/$(DEMO)/index.html"
	@echo "              $(CURDIR)/$(DEMO)/01-overview.html"
	@echo "              $(CURDIR)/$(DEMO)/02-outcomes-and-effects.html"
	@echo "              $(CURDIR)/$(DEMO)/03-teaching-confounding.html (teaching: known truth)"
	@echo "              $(CURDIR)/$(DEMO)/04-child-perspective.html"

test: $(TSTAMP) ## run the test suite (no R needed; installs the test extra)
	$(BIN)/python -m pytest -q

lab: $(STAMP) ## JupyterLab on the teaching course for municipal staff (notebooks/teaching/)
	$(BIN)/jupyter lab --notebook-dir=notebooks/teaching

lint: $(STAMP) ## ruff check
	$(BIN)/ruff check src tests benchmarks

dictionary: $(STAMP) ## regenerate data dictionary pages and the Excel template
	cp data_dictionary/dictionary.yaml src/evaluation/data/dictionary.yaml
	$(BIN)/evaluation dictionary --out data_dictionary

bench: $(STAMP) ## national-scale benchmarks (prints time and peak memory; no R)
	$(BIN)/python benchmarks/bench_synth.py
	$(BIN)/python benchmarks/bench_validate.py
	$(BIN)/python benchmarks/bench_cox.py --no-r
	$(BIN)/python benchmarks/bench_finegray.py --no-r
	$(BIN)/python benchmarks/bench_effects.py
	$(BIN)/python benchmarks/bench_comparison.py
	$(BIN)/python benchmarks/bench_risk_standardised.py
	$(BIN)/python benchmarks/bench_batch.py --workers 2

bench-peers: $(TSTAMP) ## tied-time Cox against lifelines (a test dependency), paired in one run
	$(BIN)/python benchmarks/bench_cox_ties.py

bench-r: $(STAMP) ## the same estimators timed against R on shared data (needs Rscript; slow)
	$(BIN)/python benchmarks/bench_cox.py
	$(BIN)/python benchmarks/bench_finegray.py

simulate: $(STAMP) ## bias and 95% coverage over many seeds (known truth; about 15 minutes)
	$(BIN)/python benchmarks/simulate_effects.py

PORTAL := reports/portal-demo

portal: $(STAMP) ## web portal demo on http://127.0.0.1:8000 (synthetic cases, demo user; Ctrl+C stops)
	@mkdir -p $(PORTAL) && chmod 700 $(PORTAL)
	@test -f $(PORTAL)/demo.key || $(BIN)/evaluation keygen $(PORTAL)/demo.key
	@$(BIN)/evaluation portal init --db $(PORTAL)/portal.sqlite3 --demo
	@PW=$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(12))"); \
	  echo "$$PW" | $(BIN)/evaluation portal adduser demo --municipality 0180 --role registrar \
	    --replace --db $(PORTAL)/portal.sqlite3 >/dev/null && \
	  echo "" && echo "Webbkollen: http://127.0.0.1:8000/  (log in as: demo  password: $$PW)" && \
	  echo "  registrar in municipality 0180; synthetic cases only. Ctrl+C stops." && echo ""
	$(BIN)/evaluation portal serve --db $(PORTAL)/portal.sqlite3 --key-file $(PORTAL)/demo.key

clean: ## remove generated reports (keeps .venv)
	rm -rf $(DEMO)
