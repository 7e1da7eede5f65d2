# Two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= runs
# Test processes (pytest-xdist); JAX already uses every core inside each, so more than the core count does not help.
WORKERS ?= 2

.PHONY: demo test install conformance-install clean

$(BIN)/toylab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $(BIN)/toylab

install: $(BIN)/toylab

# The conformance suite compares toylab with SAELens (tests marked `conformance`); `make test`
# installs what it needs. torch==2.13.0 is pinned because on this project's machines that
# release lies on disk as a CPU wheel, while a plain `torch` pulls a CUDA build of several GB;
# elsewhere pass TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu" for the CPU build.
SAELENS_VERSION := 6.54.12
# SAEBench's absorption calculator (tests/test_absorption_saebench.py); --no-deps: the calculator needs only
# torch, sae-lens and transformer-lens, which the line above installs (its other requirements pull in datasets,
# openai and torchvision)
SAEBENCH_VERSION := 0.6.0
TORCH_VERSION := 2.13.0
TORCH_INDEX ?=
$(VENV)/.conformance: $(BIN)/toylab
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)" $(TORCH_INDEX)
	$(BIN)/pip install --quiet "sae-lens==$(SAELENS_VERSION)" "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --quiet --no-deps "sae-bench==$(SAEBENCH_VERSION)"
	@touch $@

conformance-install: $(VENV)/.conformance

demo: install
	$(BIN)/toylab run superposition --quick --out $(OUT)
	$(BIN)/toylab run tms --quick --out $(OUT)
	$(BIN)/toylab theory --quick --out $(OUT)
	@echo "Results and figures are under $(OUT)/<experiment>/<run-id>/ (results.json, figures/*.png)."

test: install conformance-install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	TOYLAB_CONFORMANCE=required $(BIN)/python -m pytest -n $(WORKERS) --durations=20

clean:
	rm -rf $(VENV) *.egg-info
