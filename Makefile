# Two entry points for a fresh machine: `make demo` and `make test`. Both install from the locks
# in requirements/ (every package pinned with its hashes, made for Python 3.11; `make lock`
# remakes them from pyproject.toml).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q
LOCKED := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
          --no-emit-index-url --no-emit-find-links
LOCK_PYTHON := 3.11

.PHONY: demo test lint docs lock wheel-check clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; \
	  sys.exit(None if v == "$(LOCK_PYTHON)" else "error: the locks in requirements/ are for " \
	  "Python $(LOCK_PYTHON) but $(PYTHON) is Python " + v + "; give make PYTHON=python$(LOCK_PYTHON)")'
	$(PYTHON) -m venv $(VENV)

# the runtime lock only: what `pip install clinisynth` needs, nothing the tests bring
$(VENV)/.installed: $(BIN)/python requirements/runtime.lock pyproject.toml
	$(PIP) -r requirements/runtime.lock
	$(PIP) --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements/test.lock
	$(PIP) -r requirements/test.lock
	touch $@

demo: $(VENV)/.installed
	$(BIN)/clinisynth generate --dataset breast_cancer --rows 1000 --seed 0 --out out/breast_cancer_synthetic.csv

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/deptry src
	$(BIN)/lint-imports

docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

test: lint docs
	$(BIN)/python -m pytest -n 2

# Remake both locks from pyproject.toml (run after changing a dependency). The test lock is
# resolved first; the runtime lock is resolved within it, so both hold the same versions.
lock: $(VENV)/.installed-test
	$(LOCKED) --extra test --extra docs -c constraints.txt -o requirements/test.lock pyproject.toml
	$(LOCKED) -c requirements/test.lock -o requirements/runtime.lock pyproject.toml

# Build the wheel and sdist, install the wheel alone into a fresh environment and run it there.
wheel-check: $(VENV)/.installed-test
	.ci/wheel-check

clean:
	rm -rf $(VENV) out .pytest_cache dist build
