# Two commands matter: `make run` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run test bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# numba's cache of the simulator's kernels, rebuilt when a kernel's source changes (numba's own invalidation rule),
# so that only the first `make run` waits for the compile.
KERNELS := $(VENV)/.kernels
$(KERNELS): $(STAMP) engine/sim/kernels.py engine/sim/alias_kernels.py engine/sim/direct_kernels.py
	$(BIN)/python -m engine.sim.compile_kernels
	touch $(KERNELS)

run: $(KERNELS)
	$(BIN)/qstore-tui --demo

# PYTHONDONTWRITEBYTECODE (set on some hosts) would make every worker and every CLI child recompile the project
# and re-rewrite the tests' asserts: ~2.4 s of collection a worker here.
# The numba kernels compile into their cache (once per checkout, ~17 s of CPU) while mypy runs, so pytest's workers
# load them instead of each compiling them at once.
test: $(STAMP)
	$(BIN)/python -m engine.sim.compile_kernels & kernels=$$!; $(BIN)/mypy; typed=$$?; wait $$kernels && exit $$typed
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -p no:cacheprovider -n 3 --dist worksteal tests

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@for f in bench/[a-z]*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .mypy_cache
