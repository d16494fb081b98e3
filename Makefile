# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: install demo test lint bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m pipelines.demo

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check connector pipelines tests bench
	$(VENV)/bin/ruff format --check connector pipelines tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) -m bench.backfill

clean:
	rm -rf $(VENV) *.egg-info warehouse.duckdb .pytest_cache .mypy_cache
