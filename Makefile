# Every target bootstraps what it needs from nothing: a fresh clone runs `make up` or `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN := run
LISTEN ?= 127.0.0.1:8080
SIM_LISTEN ?= 127.0.0.1:8383

.PHONY: build up down test lint chromium postgresql clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

build: $(STAMP)

# Starts the simulator and statusd in the background (pids and logs under run/), waits until /readyz.
up: $(STAMP)
	@mkdir -p $(RUN)
	@$(MAKE) -s down >/dev/null 2>&1 || true
	@$(BIN)/statusd-sim --data-dir data --listen $(SIM_LISTEN) --seed 1 --refresh 30 >$(RUN)/sim.log 2>&1 & echo $$! >$(RUN)/sim.pid
	@$(BIN)/statusd --listen $(LISTEN) --data-dir data --source-url http://$(SIM_LISTEN) --state-dir state >$(RUN)/statusd.log 2>&1 & echo $$! >$(RUN)/statusd.pid
	@$(BIN)/python -m statusd.wait_ready http://$(LISTEN)/readyz --timeout 20 || { tail -20 $(RUN)/statusd.log; exit 1; }
	@echo "statusd is up: http://$(LISTEN)/ (JSON: http://$(LISTEN)/api); logs in $(RUN)/; stop with 'make down'"

down:
	@for p in statusd sim; do \
	  if [ -f $(RUN)/$$p.pid ]; then kill -TERM $$(cat $(RUN)/$$p.pid) 2>/dev/null || true; rm -f $(RUN)/$$p.pid; fi; \
	done

# Chromium from Debian for the browser tests (Playwright drives it; it downloads no browser of its own).
chromium:
	@command -v chromium >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# PostgreSQL server binaries from Debian for the replica tests (each test session starts its own
# throwaway cluster with initdb + pg_ctl on a free port; the package's own cluster is not used).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Both cores: the e2e and browser tests mostly wait on processes, so two workers halve the time.
test: $(STAMP) chromium postgresql lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Targets of their own concern: install (mk/install.mk), bench (mk/bench.mk).
-include mk/*.mk
