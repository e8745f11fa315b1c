# Set-up and the two README commands. Every target installs what it needs by itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

# The one install path (README, CI and the Dockerfile all use it): a virtualenv with the
# versions pinned in constraints.txt (torch==2.13.0, CPU build) and codesign in editable mode.
# hls4ml C simulation compiles with g++: installed here when root on Debian/Ubuntu, else named.
$(STAMP): pyproject.toml constraints.txt
	@command -v g++ >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && apt-get install -y -qq --no-install-recommends g++ >/dev/null; } \
	  || { echo "error: g++ not found; install a C++ compiler (Debian/Ubuntu: apt-get install g++)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job on an embedded default (no download needed).
demo: $(STAMP)
	$(BIN)/codesign export --model resnet110 --target fpga --out runs/demo --force

# The test suite (slow tests are marked and run by the benchmarks instead).
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

clean:
	rm -rf $(VENV) runs .pytest_cache
