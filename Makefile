SHELL := /bin/bash
# The README's two commands are `make demo` and `make test`; both set up what they need.
BUILD ?= build
VENV ?= .venv
PY := $(VENV)/bin/python
# Passed to CMake through scikit-build-core; one build tree serves the CLI, the tests and the
# Python extension.
SKB_ARGS := --no-build-isolation --no-deps -q \
	-Cbuild-dir=$(BUILD) \
	-Ccmake.define.LSIO_BUILD_TESTS=ON \
	-Ccmake.define.LSIO_BUILD_BENCH=ON \
	-Ccmake.define.LSIO_BUILD_CLI=ON \
	-Ceditable.mode=redirect

.PHONY: all deps build test test-cpp test-python bench demo fuzz test-asan test-tsan clean

all: build

deps:
	@scripts/install-deps

# Builds the library, the CLI (build/bin/lsio), the C++ tests and benchmarks, and installs the
# Python package into .venv (editable: Python sources are used in place).
build: deps
	@$(PY) -m pip install $(SKB_ARGS) -e . 2>&1 | grep -v "is ignored: it is neither" ; \
	  test $${PIPESTATUS[0]} -eq 0
	@test -x $(BUILD)/bin/lsio || (echo "build: $(BUILD)/bin/lsio missing" && false)

test: build
	@scripts/run-tests $(BUILD)

bench: build
	@scripts/run-bench $(BUILD)

demo: build
	@scripts/demo $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
