# edgeseg: `make demo` and `make test` each work on a fresh machine:
# they create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# CPU torch unless the machine has an NVIDIA driver.
TORCH_CONSTRAINTS ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,constraints-cpu.txt)
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow typecheck layers clean browser pyversions cuda-matrix docs

$(STAMP): pyproject.toml constraints-cpu.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(if $(TORCH_CONSTRAINTS),-c $(TORCH_CONSTRAINTS)) -e '.[train,export,bench,trt,video,webrtc,dev,opencv,openvino]'
	# TensorRT 10.13 type stubs for `make typecheck` (TensorRT itself is not on PyPI for every platform)
	$(BIN)/python -m pip install -q --no-deps tensorrt-stubs
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# The web viewer's test drives a real headless Chromium (Debian's packages; never a downloaded browser).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo "installing chromium and chromium-driver (apt)"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	fi

test: $(STAMP) browser layers typecheck pyversions cuda-matrix docs
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# The layer table of DESIGN.md: import-linter's contracts ([tool.importlinter] in pyproject.toml) over the
# package as installed (scripts/package_tree.py lays out edgeseg.train etc. for it; function-level imports count).
layers: $(STAMP)
	$(BIN)/python scripts/package_tree.py
	cd build/package-tree && ../../$(BIN)/lint-imports ../../pyproject.toml --no-cache

# The docs site (mkdocs.yml, docs/) with warnings as errors: a broken link or anchor fails. Built into site/
# (ignored); nothing is fetched. NO_MKDOCS_2_WARNING silences mkdocs-material's end-of-life banner.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

# The runtime and engine stages (and the core they import) must run on JetPack 5's Python 3.8.
pyversions: $(STAMP)
	$(BIN)/vermin -q -t=3.8- --violations --no-tips edgeseg engines runtime

# edgeseg/cuda_rt.py against the real cuda-python 11.8 (Python 3.8), 12.x and 13.x (venvs in .venv-cuda/, kept).
cuda-matrix: $(STAMP)
	$(BIN)/python scripts/cuda_python_matrix.py

# mypy over the whole package (edgeseg, train, export, engines, runtime) as installed, with the TensorRT
# code against tensorrt-stubs (TensorRT 10.13): every TensorRT name used must exist. scripts/typecheck.py
# lays out the package for mypy (scripts/package_tree.py) and reports errors at their source paths.
typecheck: $(STAMP)
	$(BIN)/python scripts/trt_stubs.py
	$(BIN)/python scripts/typecheck.py

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) .venv-cuda out/ site/ .pytest_cache .mypy_cache .ruff_cache
