# One command each: `make book` (the main job), `make test` (the tests). Both set up first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg
export SSLOSERVE_DATA ?= $(abspath ../shared/data)

.PHONY: setup test book lab lint clean quick

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint
	SSLOSERVE_QUICK=1 $(BIN)/python -m pytest $(NBVAL)

book: setup
	$(BIN)/python book/build.py

lab: setup
	$(BIN)/pip install --quiet -e .[lab]
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf book/_build book/_static/vendor .pytest_cache .ruff_cache

# BENCHMARKS.md collects the per-topic results that each benchmark script writes.
BENCH_MD := predictors sim emu fidelity fa2 netnn
BENCHMARKS.md: $(addprefix benchmarks/,$(addsuffix .md,$(BENCH_MD)))
	{ echo "# Benchmarks"; echo; \
	  echo "Collected from benchmarks/*.md by \`make BENCHMARKS.md\`; each section names the command that produced it."; \
	  echo "The machines are shared and noisy: figures are ratios against a baseline measured in the same run."; \
	  for f in $^; do echo; sed 's/^#/##/' $$f; done; } > $@
