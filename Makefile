# convlens: `make demo` and `make test` each work alone on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup assets demo export visualize test test-slow test-stress test-all test-serve lint bench bench-serve browser screenshot clean

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[train,test,lint]'
	@touch $@

# Ray (the serve extra) only for the Ray targets: `make demo` and `make test` never need it
SERVE_INSTALLED := $(VENV)/.installed-serve
$(SERVE_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[train,test,lint,serve]'
	@touch $@

# Ray rewrites 127.0.0.1 to the machine's external address: Ray runs only in a network namespace with
# loopback alone up (needs root), where all its traffic stays on 127.0.0.1
LOOPBACK_ONLY = unshare -n sh -c 'ip link set lo up; exec "$$0" "$$@"'

## setup: the virtual environment, the packages and the offline assets (quick when already done)
setup: $(INSTALLED)
	$(BIN)/convlens assets

## export: train (quick profile) where no trained model exists, then export to SavedModel + ONNX + int8
export: setup
	$(BIN)/convlens export

## visualize: render the gradient-ascent gallery into exported/gallery/
visualize: setup
	$(BIN)/convlens visualize all

## demo: the Gradio app on http://127.0.0.1:7860 (exports first when exported/ is empty; a missing
## gallery is rendered in the background while the app serves: `convlens demo --no-gallery` skips it)
demo: setup
	@test -f exported/manifest.json || $(BIN)/convlens export
	$(BIN)/convlens demo

## browser: Debian's chromium for the browser tests (installed when missing; needs root and apt-get)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: install Debian's chromium (apt-get install chromium) for the browser tests"; fi; }

## screenshot: remake docs/images/photo-tab.png, the README's picture (the demo on the export, in chromium)
screenshot: setup browser
	@test -f exported/manifest.json || $(BIN)/convlens export
	$(BIN)/python scripts/screenshot.py

## test: the fast suite (every area; slow and stress tests excluded)
test: setup browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: setup browser
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

test-stress: setup browser
	$(BIN)/python -m pytest -m stress $(PYTEST_ARGS)

test-all: setup browser
	$(BIN)/python -m pytest -m 'not serve' $(PYTEST_ARGS)

## test-serve: the Ray Serve and Ray Data tests, in a loopback-only network namespace (root)
test-serve: setup $(SERVE_INSTALLED)
	$(LOOPBACK_ONLY) $(BIN)/python -m pytest -m serve tests/cluster $(PYTEST_ARGS)

## lint: ruff (check and format check) and mypy, as CI runs them (needs only the venv, not the assets)
lint: $(INSTALLED)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

## bench: latency, throughput, cold start and rendering speed into runs/bench/
bench: setup
	$(BIN)/convlens bench

## bench-serve: Ray Serve replicas, batching and Ray Data against in-process, into runs/bench/results.json
bench-serve: setup $(SERVE_INSTALLED)
	$(LOOPBACK_ONLY) $(BIN)/convlens bench --serve

## clean: remove what the project built (runs/, exported/ contents, the venv); the asset cache stays
clean:
	rm -rf $(VENV) runs build dist *.egg-info .pytest_cache tests/artifacts
	find exported -mindepth 1 ! -name README.md -exec rm -rf {} +
