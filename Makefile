# Two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= runs
# Test processes (pytest-xdist); JAX already uses every core inside each, so more than the core count does not help.
WORKERS ?= 2

.PHONY: demo test install clean

$(BIN)/toylab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $(BIN)/toylab

install: $(BIN)/toylab

demo: install
	$(BIN)/toylab run superposition --quick --out $(OUT)
	$(BIN)/toylab run tms --quick --out $(OUT)
	$(BIN)/toylab theory --quick --out $(OUT)
	@echo "Results and figures are under $(OUT)/<experiment>/<run-id>/ (results.json, figures/*.png)."

test: install
	$(BIN)/python -m pytest -n $(WORKERS)

clean:
	rm -rf $(VENV) *.egg-info
