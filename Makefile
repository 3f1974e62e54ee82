SHELL := /bin/bash
# The README's two commands are `make demo` and `make test`; both set up what they need.
BUILD ?= build
VENV ?= .venv
PY := $(VENV)/bin/python
# Passed to CMake through scikit-build-core; one build tree serves the CLI, the tests and the
# Python extension.
SKB_TREE := --no-build-isolation --no-deps -q \
	-Cbuild-dir=$(BUILD) \
	-Ccmake.define.LSIO_BUILD_TESTS=ON \
	-Ccmake.define.LSIO_BUILD_BENCH=ON \
	-Ccmake.define.LSIO_BUILD_CLI=ON
SKB_ARGS := $(SKB_TREE) -Ceditable.mode=redirect
# Where `make wheel` leaves the repaired wheel.
DIST ?= dist

.PHONY: all deps build wheel test test-cpp test-python bench demo fuzz test-asan test-tsan clean

all: build

deps:
	@scripts/install-deps

# Builds the library, the CLI (build/bin/lsio), the C++ tests and benchmarks, and installs the
# Python package into .venv (editable: Python sources are used in place).
build: deps
	@$(PY) -m pip install $(SKB_ARGS) -e . 2>&1 | grep -v "is ignored: it is neither" ; \
	  test $${PIPESTATUS[0]} -eq 0
	@test -x $(BUILD)/bin/lsio || (echo "build: $(BUILD)/bin/lsio missing" && false)

# A wheel for users (README, "Install"): the extension and the CLI (lsio/bin/lsio, run by the
# `lsio` console command), packed by scikit-build-core from the same build tree as `make build`
# (the objects the tests ran are the ones shipped; only the install step runs again, with
# --strip); then auditwheel copies in the shared libraries they need (all but glibc, libstdc++,
# libgcc_s, libm) and gives the wheel the manylinux tag those allow (its log:
# build/wheel-raw/auditwheel.log). Prints the wheel's size and name.
wheel: build
	@rm -rf $(BUILD)/wheel-raw && mkdir -p $(BUILD)/wheel-raw $(DIST)
	@$(PY) -m pip wheel $(SKB_TREE) -w $(BUILD)/wheel-raw . 2>&1 \
	  | grep -v "is ignored: it is neither" ; test $${PIPESTATUS[0]} -eq 0
	@rm -f $(DIST)/lsio-*.whl
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/auditwheel repair --strip \
	  -w $(DIST) $(BUILD)/wheel-raw/lsio-*.whl >$(BUILD)/wheel-raw/auditwheel.log 2>&1 \
	  || (cat $(BUILD)/wheel-raw/auditwheel.log && false)
	@du -h $(DIST)/lsio-*.whl

test: build
	@scripts/run-tests $(BUILD)

bench: build
	@scripts/run-bench $(BUILD)

demo: build
	@scripts/demo $(BUILD)

# Sanitizer builds of the C++ tests (not part of `make test`): each has its own build tree with
# only the libraries and the gtest binaries; ctest also runs the Python steps that write the
# reference data the gtests read. -j2: the machine is shared.
SAN_JOBS ?= 2
SAN_CMAKE := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSIO_BUILD_TESTS=ON \
	-DLSIO_BUILD_BENCH=OFF -DLSIO_BUILD_CLI=OFF -DLSIO_BUILD_PYTHON=OFF

test-asan: deps
	@cmake -S . -B build-asan $(SAN_CMAKE) -DLSIO_SANITIZE=address,undefined >/dev/null
	@ninja -C build-asan -j$(SAN_JOBS)
	@ASAN_OPTIONS=detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1 \
	  UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-asan --output-on-failure -j$(SAN_JOBS) --timeout 1200

# Debian's oneTBB is not built with TSan; lsio annotates its task hand-offs through libtbb
# (include/lsio/base/tsan.h) so that the task_arena suites are meaningful too.
test-tsan: deps
	@cmake -S . -B build-tsan $(SAN_CMAKE) -DLSIO_SANITIZE=thread >/dev/null
	@ninja -C build-tsan -j$(SAN_JOBS)
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --test-dir build-tsan --output-on-failure -j$(SAN_JOBS) --timeout 1200

# libFuzzer targets (fuzz/README.md), built with clang under ASan+UBSan, each run for
# FUZZ_SECONDS on a corpus kept in build-fuzz/fuzz/corpus.
FUZZ_SECONDS ?= 60
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DLSIO_BUILD_FUZZ=ON -DLSIO_SANITIZE=address,undefined -DLSIO_BUILD_TESTS=OFF \
	  -DLSIO_BUILD_BENCH=OFF -DLSIO_BUILD_CLI=OFF -DLSIO_BUILD_PYTHON=OFF >/dev/null
	@ninja -C build-fuzz -j$(SAN_JOBS) lsio_fuzzers
	@fuzz/make-seeds build-fuzz
	@fuzz/run -t $(FUZZ_SECONDS) -b build-fuzz

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
