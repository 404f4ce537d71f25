# Two entry points for a fresh machine: `make demo` and `make test`.
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.endobench-installed

.PHONY: demo test bench lint clean-venv

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/endobench demo

test: $(STAMP)
	$(PYTHON) -m pytest -q

bench: $(STAMP)
	$(PYTHON) -m pytest tests/benchmarks --benchmark-enable --benchmark-columns=min,median,mean,rounds -q

lint: $(STAMP)
	$(VENV)/bin/ruff check endobench tests

clean-venv:
	rm -rf $(VENV)
