# IMCBench Studio. `make run` installs everything and serves the demo; `make test` installs and runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install assets run demo test test-fast lint chromium lock clean

$(STAMP): pyproject.toml constraints.txt scripts/find-python
	@python=$$(scripts/find-python) || exit 1; \
	  if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then \
	    rm -rf $(VENV); echo "Creating $(VENV) with $$python"; $$python -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[demo,test,providers,adapters,deploy]"
	@touch $(STAMP)

ASSETS := static/vendor/.installed

# Front-end libraries come from the npm registry and are copied into static/vendor (not committed). Cornerstone3D
# ships ES modules: esbuild bundles them into one file (assets/cornerstone.js is its entry) and its decoding
# worker, which the bundle loads from beside itself. Node built-ins named in Node-only branches of some packages
# point to a stand-in (assets/node-builtins.js).
CS := node_modules/@cornerstonejs
$(ASSETS): package.json package-lock.json $(wildcard assets/*)
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	mkdir -p static/vendor/panzoom static/vendor/cornerstone static/vendor/openseadragon
	cp node_modules/@panzoom/panzoom/dist/panzoom.min.js node_modules/@panzoom/panzoom/MIT-License.txt static/vendor/panzoom/
	node_modules/.bin/esbuild assets/cornerstone.js $(CS)/dicom-image-loader/dist/esm/decodeImageFrameWorker.js \
	  --bundle --format=esm --minify --legal-comments=none --log-level=warning \
	  --outdir=static/vendor/cornerstone --entry-names='[name]' --metafile=static/vendor/cornerstone/meta.json \
	  $(foreach m,fs path module url worker_threads crypto events,--alias:$(m)=./assets/node-builtins.js)
	node assets/licences.mjs static/vendor/cornerstone/meta.json static/vendor/cornerstone
	rm static/vendor/cornerstone/meta.json
	cp node_modules/openseadragon/build/openseadragon/openseadragon.min.js node_modules/openseadragon/LICENSE.txt \
	  static/vendor/openseadragon/
	@touch $(ASSETS)

assets: $(ASSETS)

install: $(STAMP) $(ASSETS)

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_demo --with-jury

run: demo
	@echo ""
	@echo "IMCBench Studio: http://$(HOST):$(PORT)/   (admin: http://$(HOST):$(PORT)/admin/)"
	@$(PY) manage.py demo_logins
	$(PY) manage.py runserver $(HOST):$(PORT)

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; fi
	@/usr/bin/chromium --version

# pytest exits 5 when it collected no test: that is a failure here, never a pass.
test: install chromium
	$(PY) -m ruff check .
	@set +e; $(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status

test-fast: install
	$(PY) -m pytest -m "not browser" $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) data/test.sqlite3 node_modules static/vendor
