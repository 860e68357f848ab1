# `make demo` and `make test` do all the set-up: they create (or reuse) .venv and install
# evlab with what it needs, then run the demo or the whole test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.evlab-installed

.PHONY: demo sync-demo test bench lint clean

$(STAMP): pyproject.toml evlab/_speedups.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/async_event_system_demo.py

CORE_TESTS := tests/test_bus.py tests/test_events.py tests/test_usage_guide.py \
	tests/test_manager.py tests/test_handlers.py tests/test_speedups.py

sync-demo: $(STAMP)
	$(PY) examples/event_system_demo.py

test: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)
	$(PY) -m ruff check evlab tests benchmarks examples notebooks
	EVLAB_PURE_PYTHON=1 $(PY) -m pytest -q -p no:cacheprovider $(CORE_TESTS)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m benchmarks.bench_dispatch
	$(PY) -m benchmarks.bench_feed_server
	$(PY) -m benchmarks.bench_record
	$(PY) -m benchmarks.bench_live_chart

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
