# Two commands do all set-up on a fresh machine (Python 3.11, 3.12 or 3.13):
#   make repro   install into .venv from requirements.lock, then `dvc repro`
#   make test    install the same way, then the test suite
# Both are idempotent: a second call installs nothing. `make help` lists every target.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)
export KERAS_BACKEND := jax

.PHONY: help install repro test test-unit exp readme schema lock cuda break-guarantees bench dashboard worker plots-page clean-cache clean-venv

help: ## list the targets
	@awk -F':.*## ' '/^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(STAMP) ## create .venv and install the pinned packages (once)

# The pinned wheels are tested on CPython 3.11 (CI), 3.12 and 3.13. Before a venv exists,
# any target that installs stops with one line on another Python (or a missing one).
SUPPORTED := 3.11 3.12 3.13
ifeq ($(wildcard $(VENV)/bin/python),)
ifneq ($(filter-out help clean-cache clean-venv,$(MAKECMDGOALS)),)
PYTHON_ERROR := $(shell if $(PYTHON) -c "" >/dev/null 2>&1; then $(PYTHON) tools/check_python.py $(SUPPORTED) 2>&1; \
	else echo "error: $(PYTHON) does not run; nnreg needs Python $(SUPPORTED): make PYTHON=python3.11"; fi)
ifneq ($(PYTHON_ERROR),)
$(error $(PYTHON_ERROR))
endif
endif
endif

$(STAMP): requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

repro: $(STAMP) ## install, then run the pipeline (dvc repro)
	dvc repro

# Two workers (pytest-xdist), a test file each at a time: most tests wait on one process at a
# time (a stage, DVC), so two share the 2 cores of CI's machine. tests/ is grouped by level
# (docs/contributing.md): unit, training, stages, pipeline.
TEST_WORKERS ?= 2
test: $(STAMP) ## install, then run the whole test suite (TEST_WORKERS=2 in parallel)
	python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-unit: $(STAMP) ## install, then run the fast tests only (tests/unit)
	python -m pytest -q -n $(TEST_WORKERS) tests/unit

exp: $(STAMP) ## the experiments as a readable table: changed params, validation MSEs (ARGS= for dvc exp show)
	python tools/exp_table.py $(ARGS)

readme: $(STAMP) ## copy the committed results (plots/summary.md) into the README's Results tables
	python tools/sync_readme.py

schema: $(STAMP) ## write params.schema.json, the JSON Schema of params.yaml, from nnreg/params/schema.py
	python -m nnreg.params.export > params.schema.json

lock: $(STAMP) ## re-pin every package after editing pyproject.toml's dependencies
	pip-compile -q --extra test --extra dev --generate-hashes --allow-unsafe --strip-extras -o requirements.lock pyproject.toml

# Adds JAX's CUDA plugin at the pinned JAX version (Keras follows, on its JAX backend).
# CUDA=cuda13 for CUDA 13 drivers.
CUDA ?= cuda12
cuda: $(STAMP) ## add JAX's CUDA plugin (CUDA=cuda12 or cuda13)
	pip install -q "jax[$(CUDA)]==$$(python -c 'import jax; print(jax.__version__)')"

break-guarantees: $(STAMP) ## break each central promise of docs/guarantees.md in a clone, check its test fails
	python tools/break_guarantees.py

bench: $(STAMP) ## time nnreg's trainers against the lecture's code
	python benchmarks/bench.py

# Optuna's dashboard on the search's study (its journal file), served from this machine: the
# dashboard's pages are in its wheel, so it needs no network. DASHBOARD_PORT= to change the port.
DASHBOARD_PORT ?= 8080
dashboard: $(STAMP) ## open optuna-dashboard on the search's study (models/search.journal) at localhost:8080
	optuna-dashboard --host 127.0.0.1 --port $(DASHBOARD_PORT) --storage-class JournalFileStorage models/search.journal

# A search worker on this machine (docs/experiments.md, "The search on many machines"): joins
# the study the search stage made in search.storage, trains its trials here until it is done.
worker: $(STAMP) ## join the search's shared study (search.storage) as a worker on this machine
	python -m nnreg.search.worker

# Rebuilds .dvc/plots/page.html, the template of `dvc plots show`/`diff`, with these
# versions of vega, vega-lite and vega-embed inlined (needs npm and the network).
VEGA ?= 5.33.1
VEGA_LITE ?= 5.23.0
VEGA_EMBED ?= 6.29.0
plots-page: $(STAMP) ## rebuild .dvc/plots/page.html with VEGA=, VEGA_LITE=, VEGA_EMBED= inlined
	rm -rf build/vega
	npm install --silent --no-save --prefix build/vega vega@$(VEGA) vega-lite@$(VEGA_LITE) vega-embed@$(VEGA_EMBED)
	python tools/plots_page.py build/vega/node_modules

# Empties JAX's persistent compilation cache that the stages share (nnreg/runtime/machine.py says where).
JAX_CACHE ?= $(or $(JAX_COMPILATION_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/nnreg/jax)
clean-cache: ## empty the JAX compilation cache the stages share
	rm -rf "$(JAX_CACHE)"

clean-venv: ## remove .venv
	rm -rf $(VENV)
