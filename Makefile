# Two commands on a fresh machine: `make run` and `make test`. Everything they need is installed from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := usb,postgres,scale,test
# Many tests wait on phones, adb servers and browsers rather than the CPU: four workers keep CI well inside
# its 20 minutes even on two cores. `make test TEST_WORKERS=0` runs them in one process.
TEST_WORKERS ?= 4

.PHONY: run test system-deps clean bench

$(BIN)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

system-deps:
	bash scripts/system-deps.sh

# `make run PORT=5001 HOST=0.0.0.0` serves elsewhere (passed to `phonegate serve --port/--host`).
PORT ?= 5000
HOST ?= 127.0.0.1

run: $(BIN)/.installed node_modules/.installed
	$(BIN)/phonegate db upgrade
	$(BIN)/phonegate serve --host $(HOST) --port $(PORT)

test: system-deps $(BIN)/.installed node_modules/.installed
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache
