# `make demo` and `make test` do all the set-up: they create (or reuse) .venv and install
# evlab with what each needs (the demo: evlab and its dependencies; the tests: also the test
# tools, JupyterLab and Playwright), showing pip's progress, then run the demo or the suite.
# `make screenshots` retakes the README's pictures (docs/images/) when the chart code changed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SOURCES := pyproject.toml setup.py evlab/_core.py evlab/_core.pxd evlab/_cprims.pxd \
	evlab/_builders.py evlab/_builders.pxd evlab/books/book.py \
	evlab/books/book.pxd evlab/books/orderbooks.pxd \
	evlab/books/orderbooks.py evlab/execution/broker.py evlab/execution/portfolio.py \
	evlab/feeds/adapters/_common.py evlab/feeds/adapters/_common.pxd evlab/feeds/adapters/binance.py \
	evlab/feeds/adapters/coinbase.py evlab/feeds/adapters/kraken.py evlab/feeds/adapters/kraken.pxd
DEMO_STAMP := $(VENV)/.evlab-demo
TEST_STAMP := $(VENV)/.evlab-test

# What the screenshots depend on: tools/screenshots.py's SOURCES (tests/test_screenshots.py
# checks that the two lists agree, and that docs/images/manifest.json matches these files).
SCREENSHOT_SOURCES := $(wildcard evlab/plot/*.py) evlab/examples.py tools/screenshots.py
SCREENSHOTS := docs/images/manifest.json

.PHONY: demo sync-demo test bench screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

$(DEMO_STAMP): $(SOURCES) | $(PY)
	$(PY) -m pip install -e .
	touch $@

$(TEST_STAMP): $(SOURCES) | $(PY)
	$(PY) -m pip install -e '.[test]'
	touch $@ $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(PY) examples/async_event_system_demo.py

CORE_TESTS := tests/test_bus.py tests/test_events.py tests/test_usage_guide.py \
	tests/test_manager.py tests/test_handlers.py tests/test_dispatch_parity.py \
	tests/books tests/adapters tests/test_broker.py tests/test_portfolio.py tests/test_orders.py \
	tests/test_book_fills.py

sync-demo: $(DEMO_STAMP)
	$(PY) examples/event_system_demo.py

CHROMIUM := command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

test: $(TEST_STAMP)
	$(CHROMIUM)
	$(PY) -m ruff check evlab tests benchmarks examples notebooks tools
	$(PY) -m mypy evlab notebooks tools benchmarks  # settings: [tool.mypy] in pyproject.toml
	EVLAB_PURE_PYTHON=1 $(PY) -m pytest -q -p no:cacheprovider $(CORE_TESTS)
	$(PY) -m pytest

bench: $(TEST_STAMP)
	$(PY) -m benchmarks.bench_dispatch
	$(PY) -m benchmarks.bench_feed_server
	$(PY) -m benchmarks.bench_ingest
	$(PY) -m benchmarks.bench_record
	$(PY) -m benchmarks.bench_replay
	$(PY) -m benchmarks.bench_stream_replay
	$(PY) -m benchmarks.bench_live_chart
	$(PY) -m benchmarks.bench_hung_handler
	$(PY) -m benchmarks.bench_slow_client
	$(PY) -m benchmarks.bench_books
	$(PY) -m benchmarks.bench_sweep
	$(PY) -m benchmarks.bench_backtest

screenshots: $(SCREENSHOTS)

$(SCREENSHOTS): $(SCREENSHOT_SOURCES) | $(TEST_STAMP)
	$(CHROMIUM)
	$(PY) -m tools.screenshots --out $(dir $@)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
