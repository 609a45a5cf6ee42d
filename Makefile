# gridcast: everyday jobs. `make run` and `make test` install what they need into .venv.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench bench-mc bench-baseline bench-run bench-scenario bench-report data clean install

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv
	@$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev,dask,maps,pypsa]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/gridcast run

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check flows models reports tests data benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/bench_mc.py
	$(BIN)/python benchmarks/bench_hourly.py

bench-run: $(STAMP)
	$(BIN)/python benchmarks/bench_default_run.py

bench-scenario: $(STAMP)
	$(BIN)/python benchmarks/bench_scenario.py --repeat 3 --workers 2

bench-report: $(STAMP)
	$(BIN)/python benchmarks/bench_report.py --repeat 2

bench-mc: $(STAMP)
	$(BIN)/python benchmarks/bench_mc.py

bench-baseline: $(STAMP)
	$(BIN)/python benchmarks/bench_baseline.py

data: $(STAMP)
	$(BIN)/python data/build_default.py

clean:
	rm -rf $(VENV) .gridcast
