# Two commands on a fresh clone: `make demo` (hear the denoiser) and `make test` (run the suite).
# Each creates .venv/ with the pinned requirements on first use.
# .ci/check_system first says in one line what the machine lacks (Python version, venv, C compiler
# and headers for pesq) instead of a pip traceback. `make test` also installs the light peers and Apache Beam.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PEERS_STAMP := $(VENV)/.peers-installed
BEAM_STAMP := $(VENV)/.beam-installed

.PHONY: demo test lint install peers beam clean

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

demo: $(STAMP)
	$(BIN)/keras_denoiser demo

test: $(PEERS_STAMP) $(BEAM_STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
