# Two entry points for a fresh machine: `make demo` and `make test`.
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.endobench-installed

.PHONY: demo test bench lint gpu-check gpu-sample clean-venv

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/endobench demo

# Speed claims live in tests/benchmarks and run only under `make bench`: no wall-clock threshold
# can fail `make test` on a slow or busy machine.
test: $(STAMP)
	$(PYTHON) -m pytest -q --ignore=tests/benchmarks

bench: $(STAMP)
	$(PYTHON) -m pytest tests/benchmarks --benchmark-enable --benchmark-columns=min,median,mean,rounds -q

# On a CUDA machine, under 8 minutes: speed, an AMP training smoke run and GPU-against-CPU masks,
# printed as one JSON and written to docs/gpu-check.json (docs/pipeline.md).
gpu-check: $(STAMP)
	$(PYTHON) -m endobench.checks.gpu_check $(if $(wildcard gpu-sample/images),--sample gpu-sample)

# The packed sample gpu-check carries to the GPU machine: >= 500 Kvasir/ClinicDB test frames and
# masks (about 17 MiB, git-ignored) from the real data beside the project.
DATA_ROOT ?= ../shared/data
gpu-sample: $(STAMP)
	$(PYTHON) -m endobench.checks.gpu_sample --data-root $(DATA_ROOT) --out gpu-sample

lint: $(STAMP)
	$(VENV)/bin/ruff check endobench tests

clean-venv:
	rm -rf $(VENV)
