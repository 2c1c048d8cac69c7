# One-command workflows (see README): `make book`, `make test`, `make lab`.
# Every target installs what it needs first, so each works on a fresh machine
# with Python 3.11, Node.js/npm and (for tests) apt.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NPM_STAMP := node_modules/.installed-stamp

.PHONY: book check test bench lab homework grade assets system-deps chromium clean help

help:
	@echo "make book   build the static site into _build/html"
	@echo "make check  fast tests: helpers vs PyTorch, lint, notebook hygiene (no browser, no notebook runs, no root)"
	@echo "make test   run every test (helpers, notebooks, book build, typography, browser); what CI runs"
	@echo "make lab    open the chapters and labs in JupyterLab"
	@echo "make bench  benchmark report (build times, notebook times, helper ratios, claims on 10 seeds, recorded for the book)"
	@echo "make homework                 student notebooks + autograder bundles into dist/"
	@echo "make grade SUBMISSIONS=dir    grade submitted notebooks into grades/"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/pip check
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

assets: $(STAMP) $(NPM_STAMP)
	$(BIN)/python tools/build_assets.py

# tools/build_book.py runs jupyter-book with warnings as errors, then fails if any notebook
# failed (on a rebuild too) and prints the failing cell and an execution report.
book: assets
	$(BIN)/python tools/build_book.py

# Debian packages the full suite needs: chromium drives the browser tests (never
# `playwright install`); bubblewrap isolates each graded submission.
system-deps:
	@command -v chromium >/dev/null && command -v bwrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium bubblewrap; }
chromium: system-deps

# The suite runs with the network off: in a fresh network namespace with only
# loopback where `unshare` is allowed (root on Linux), and in any case under the
# socket guard (tests/offline_guard.py) that refuses connections to other hosts,
# notebook kernels and the book build included. Set-up above is the only step
# that uses the network.
PYTEST := DLFA_OFFLINE=1 DLFA_QUIET=1 $(BIN)/python -m pytest -p tests.offline_guard
# Both tiers run on every core (pytest-xdist); a test file stays on one worker (--dist loadfile),
# so a notebook's cells run in order on one kernel; files start in the order tests/conftest.py gives
# them, longest first (--no-loadscope-reorder). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto
XDIST = -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The fast loop: everything that needs no browser and no notebook execution (budget 90 s).
check: assets
	$(PYTEST) $(XDIST) -q -m "not slow" tests $(PYTEST_ARGS)

test: assets system-deps
	@if unshare --net true 2>/dev/null; then \
	  echo "tests run with the network off (unshare --net, loopback only)"; \
	  unshare --net sh -c 'ip link set lo up && $(PYTEST) $(XDIST) $(PYTEST_ARGS)'; \
	else \
	  echo "unshare is not allowed here: tests run under the socket guard only"; \
	  $(PYTEST) $(XDIST) $(PYTEST_ARGS); \
	fi

# Benchmark report -> benchmarks/report.md. BENCH_FLAGS=--tests also times the test command.
bench: assets
	DLFA_QUIET=1 $(BIN)/python -m benchmarks.report $(BENCH_FLAGS)

# JupyterLab refuses to run as root without --allow-root: pass it only when make runs as root.
lab: assets
	JUPYTER_CONFIG_DIR=$(CURDIR)/tools/jupyter $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root)

homework: $(STAMP)
	$(BIN)/python tools/homework.py generate

grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<folder of submitted notebooks>"; exit 2; }
	$(BIN)/python tools/homework.py grade $(SUBMISSIONS) --out grades -j 2

clean:
	rm -rf _build _vendor _static/fonts

# Class hub benchmark: N simulated students run lab 1 at once on a real JupyterHub on
# this machine (loopback only) -> benchmarks/hub_report.md. HUB_BENCH_FLAGS="--users 20 --ramp 25,30".
.PHONY: hub-bench
hub-bench: assets
	$(BIN)/python -m benchmarks.hub $(HUB_BENCH_FLAGS)
