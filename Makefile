# edgeseg: `make demo` and `make test` each work on a fresh machine:
# they create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# CPU torch unless the machine has an NVIDIA driver.
TORCH_CONSTRAINTS ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,constraints-cpu.txt)
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow lint typecheck clean

$(STAMP): pyproject.toml constraints-cpu.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(if $(TORCH_CONSTRAINTS),-c $(TORCH_CONSTRAINTS)) -e '.[train,export,bench,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) out/ .pytest_cache .mypy_cache .ruff_cache
