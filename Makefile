# One command each: `make book` (the main job), `make test` (the tests). Both set up first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# nbval runs every cell; it compares only the outputs of cells tagged nbval-check-output
# (deterministic, the same in quick and full mode): the committed outputs are full mode.
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg
export SSLOSERVE_DATA ?= $(abspath ../shared/data)

.PHONY: setup chromium test book lab lint clean quick notebooks

setup: $(STAMP)

# The book's browser test (tests/test_book.py) drives Debian's chromium: `make test` installs
# it when run as root (CI, these machines); elsewhere it says the one command to run.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "test: installing Debian's chromium for the book's browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "test: chromium is missing; install it once with: sudo apt-get install -y chromium" \
	         "(or set SSLOSERVE_SKIP_BROWSER=1 to skip the book's browser check)" >&2; \
	    [ -n "$$SSLOSERVE_SKIP_BROWSER" ]; \
	  fi; }

$(STAMP): pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: setup chromium lint
	SSLOSERVE_QUICK=1 $(BIN)/python -m pytest $(NBVAL)

book: setup
	$(BIN)/python book/build.py

# Re-execute the chapters in place in full mode with the real data, recording when, where and
# from which library and data files their outputs came (book/execute.py); the tests fail on a
# chapter whose record no longer matches. One chapter: `make notebooks NB=02_sponge`.
notebooks: setup
	env -u SSLOSERVE_QUICK $(BIN)/python book/execute.py $(NB)

lab: setup
	$(BIN)/pip install --quiet -e .[lab]
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf book/_build book/_static/vendor .pytest_cache .ruff_cache

# BENCHMARKS.md collects the per-topic results that each benchmark script writes.
BENCH_MD := predictors sim emu fidelity fa2 netnn sponge biscale ipa ray
BENCHMARKS.md: $(addprefix benchmarks/,$(addsuffix .md,$(BENCH_MD)))
	{ echo "# Benchmarks"; echo; \
	  echo "Collected from benchmarks/*.md by \`make BENCHMARKS.md\`; each section names the command that produced it."; \
	  echo "The machines are shared and noisy: figures are ratios against a baseline measured in the same run."; \
	  for f in $^; do echo; sed 's/^#/##/' $$f; done; } > $@
