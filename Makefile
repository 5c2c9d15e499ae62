# Two commands do all set-up on a fresh machine (Python 3.11):
#   make repro   install into .venv from requirements.lock, then `dvc repro`
#   make test    install the same way, then the test suite
# Both are idempotent: a second call installs nothing.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)
export KERAS_BACKEND := jax

.PHONY: install repro test lock cuda bench plots-page clean-cache clean-venv

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

repro: $(STAMP)
	dvc repro

test: $(STAMP)
	python -m pytest -q

# Re-pin every package after editing pyproject.toml's dependencies.
lock: $(STAMP)
	pip-compile -q --extra test --extra dev --generate-hashes --allow-unsafe --strip-extras -o requirements.lock pyproject.toml

# Adds JAX's CUDA plugin at the pinned JAX version (Keras follows, on its JAX backend).
# CUDA=cuda13 for CUDA 13 drivers.
CUDA ?= cuda12
cuda: $(STAMP)
	pip install -q "jax[$(CUDA)]==$$(python -c 'import jax; print(jax.__version__)')"

bench: $(STAMP)
	python benchmarks/bench.py

# Rebuilds .dvc/plots/page.html, the template of `dvc plots show`/`diff`, with these
# versions of vega, vega-lite and vega-embed inlined (needs npm and the network).
VEGA ?= 5.33.1
VEGA_LITE ?= 5.23.0
VEGA_EMBED ?= 6.29.0
plots-page: $(STAMP)
	rm -rf build/vega
	npm install --silent --no-save --prefix build/vega vega@$(VEGA) vega-lite@$(VEGA_LITE) vega-embed@$(VEGA_EMBED)
	python tools/plots_page.py build/vega/node_modules

# Empties JAX's persistent compilation cache that the stages share (nnreg/cli.py says where).
JAX_CACHE ?= $(or $(JAX_COMPILATION_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/nnreg/jax)
clean-cache:
	rm -rf "$(JAX_CACHE)"

clean-venv:
	rm -rf $(VENV)
