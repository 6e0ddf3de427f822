# A thin layer over CMake/CTest and the benchmark runner. Variables: BUILD (build directory),
# CMAKE_ARGS (e.g. -DEEGPT_WITH_CUDA=OFF), JOBS, BENCH_ARGS (e.g. "--cpu-only --quick --save main").
BUILD ?= build
JOBS ?= 2
CMAKE_ARGS ?=
BENCH_ARGS ?= --cpu-only
PYTHON ?= /usr/bin/python3
# clang-format style of the existing sources; checked on C++ files changed since BASE (default: main).
BASE ?= main
FORMAT_STYLE ?= {BasedOnStyle: Google, IndentWidth: 4, ColumnLimit: 120, AccessModifierOffset: -4}

.PHONY: all build test benchmark benchmark-quick format-check lint check-all

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# Every test except the benchmarks (what CI runs); the bench-smoke test is included.
test: build
	ctest --test-dir $(BUILD) -LE benchmark --output-on-failure

benchmark: build
	$(PYTHON) tools/bench/run_benchmarks.py --no-build --build-dir $(BUILD) $(BENCH_ARGS)

benchmark-quick: build
	$(PYTHON) tools/bench/run_benchmarks.py --no-build --build-dir $(BUILD) --cpu-only --quick

format-check:
	@files=$$(git diff --name-only --diff-filter=d $$(git rev-parse -q --verify $(BASE) >/dev/null && git merge-base HEAD $(BASE) || echo HEAD) -- '*.cpp' '*.h' '*.cu' '*.cuh'); \
	if ! command -v clang-format >/dev/null; then echo "format-check: clang-format not installed, skipped"; \
	elif [ -z "$$files" ]; then echo "format-check: no changed C++ files"; \
	else echo "format-check: $$files"; clang-format --dry-run --Werror --style='$(FORMAT_STYLE)' $$files; fi

lint:
	@if $(PYTHON) -m pyflakes --version >/dev/null 2>&1; then \
	  echo "lint: pyflakes tools/ test/python/"; $(PYTHON) -m pyflakes tools/*.py tools/*/*.py $$(ls test/python/*.py 2>/dev/null); \
	else echo "lint: pyflakes not installed, skipped"; fi

check-all: build test benchmark-quick format-check lint
