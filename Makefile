# CPU set-up, main job and tests. `make demo` and `make test` create .venv when it is missing
# (or pyproject.toml changed).
PYTHON ?= python3
VENV ?= .venv
# On a machine without a local CPU wheel, add the PyTorch CPU index, e.g.
#   make test TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu"
TORCH_INDEX ?=

.PHONY: install lint test test-fast demo clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q torch==2.13.0 $(TORCH_INDEX)
	$(VENV)/bin/python -m pip install -q -e ".[cpu,test]"
	touch $@

install: $(VENV)/.installed

# ruff's rules are in pyproject.toml ([tool.ruff]); `make test` lints before it tests
lint: install
	$(VENV)/bin/ruff check .

test: lint
	$(VENV)/bin/python -m pytest -q

demo: install
	$(VENV)/bin/pmpo-verl demo --out pmpo_demo

test-fast: install
	$(VENV)/bin/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) build *.egg-info
