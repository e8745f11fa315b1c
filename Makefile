# Set-up and the two README commands. Every target installs what it needs by itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

# The one install path (README, CI and the Dockerfile all use it): a virtualenv with the
# versions pinned in constraints.txt (torch==2.13.0, CPU build) and codesign in editable mode.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job on an embedded default (no download needed).
demo: $(STAMP)
	$(BIN)/codesign train lenet5_mnist_mini --out runs/demo --force

# The test suite (slow tests are marked and run by the benchmarks instead).
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

clean:
	rm -rf $(VENV) runs .pytest_cache
