# Two commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install when the dependencies change.
STAMP := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
# A CPU-only torch wheel lying on this machine's disk, if any: installed first so
# that pip never pulls the multi-GB CUDA build for torch>=2.2,<2.14.
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-*+cpu-*.whl))
DEMO_OUT ?= results/demo

.PHONY: setup demo test lint format bench clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(if $(TORCH_WHEEL),$(BIN)/python -m pip install -q "$(TORCH_WHEEL)")
	$(BIN)/python -m pip install -q -e ".[dev,peers]"
	rm -f $(VENV)/.installed-*
	touch $@

# The main job: the segregated-dendrite network learning the shipped MNIST subset.
demo: $(STAMP)
	$(BIN)/neurosim run protocols/segregated_mnist_demo.yaml --out $(DEMO_OUT)

# One process per core; idle processes take tests from busy ones (a module fixture may run in both).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) results .pytest_cache
