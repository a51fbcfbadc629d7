# The two commands in README.md: `make demo` and `make test`. Each does all of its own set-up.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(STAMP)
	./scripts/system-deps.sh
	$(VENV)/bin/regiongis demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP)
	./scripts/system-deps.sh --test
	$(MAKE) lint
	$(PY) -m pytest

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	./scripts/system-deps.sh --test
	$(PY) -m bench

clean:
	-$(VENV)/bin/regiongis db stop
	rm -rf .regiongis
