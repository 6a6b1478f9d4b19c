# Two commands on a fresh clone: `make demo` (hear the denoiser) and `make test` (run the suite).
# Each creates .venv/ with the pinned requirements on first use.
# .ci/check_system first says in one line what the machine lacks (Python version, venv, C compiler
# and headers for pesq) instead of a pip traceback. `make test` also installs the light peers and Apache Beam, and builds the web page when npm is present.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PEERS_STAMP := $(VENV)/.peers-installed
BEAM_STAMP := $(VENV)/.beam-installed

.PHONY: demo test lint install peers beam web clean

$(STAMP): requirements.txt setup.cfg setup.py pyproject.toml
	@.ci/check_system $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	@# setuptools warns about every editable install of a flat layout ("Editable installation"); it is expected here
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

$(PEERS_STAMP): $(STAMP) requirements-peers.txt requirements-peers-no-deps.txt
	$(BIN)/pip install --quiet -r requirements-peers.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-peers-no-deps.txt
	touch $(PEERS_STAMP)

$(BEAM_STAMP): $(STAMP) requirements-beam.txt
	$(BIN)/pip install --quiet -r requirements-beam.txt
	touch $(BEAM_STAMP)

install: $(STAMP)

peers: $(PEERS_STAMP)

beam: $(BEAM_STAMP)

# The web page (tflite_demo/web/dist) is built from its sources whenever npm is present, so the
# Chromium tests skip only where Chromium itself is missing (and the node tests only without node).
web:
	@if command -v npm >/dev/null; then \
	  cd tflite_demo/web && { [ -d node_modules ] || npm ci --no-audit --no-fund --silent; } && npm run --silent build; \
	else echo "npm not found: the web page is not built, so its tests will skip (install node and npm to run them)"; fi

demo: $(STAMP)
	$(BIN)/keras_denoiser demo

# Two workers, each given whole files (module fixtures are built once), in the collection order that
# tests/conftest.py sets: the files with multi-process (slow) or long tests first.
test: $(PEERS_STAMP) $(BEAM_STAMP) web
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
