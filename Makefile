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
	$(PY) -m pip install --quiet -c constraints.txt -e ".[demo,test,providers,adapters,deploy,inspect]"
	@touch $(STAMP)

ASSETS := static/vendor/.installed

# Front-end libraries come from the npm registry and are vendored into static/vendor (not committed) by
# assets/build.sh, which the Dockerfile runs too.
$(ASSETS): package.json package-lock.json $(wildcard assets/*)
	bash assets/build.sh
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
