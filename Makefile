# routerha: `make demo` runs the built-in lab, `make test` runs every test.
# Both set up what they need on a fresh Debian 12 machine (as root): the Debian
# packages (scripts/install-system-packages) and a virtual environment in .venv.

PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test lint sanity unit demo demo-clean demo-namespaces demo-simulated bench-failover bench-heal clean

setup: $(STAMP)

$(STAMP): requirements-dev.txt pyproject.toml scripts/install-system-packages
	scripts/install-system-packages
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	# ansible.cfg finds this checkout as the routerha.cluster collection here.
	mkdir -p $(VENV)/collections/ansible_collections/routerha
	ln -sfn $(CURDIR) $(VENV)/collections/ansible_collections/routerha/cluster
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/ansible-lint -q

# ansible-test sanity on the built collection (modules, module_utils, plugins, docs).
sanity: setup
	scripts/collection-sanity

test: lint sanity
	$(BIN)/python -m pytest

unit: setup
	$(BIN)/python -m pytest tests/machine tests/wire tests/model

# The collection's main job on a lab of podman containers: rollout, status, drill.
demo: setup
	$(BIN)/python -m demo.cluster

demo-clean: setup
	$(BIN)/python -m lab.containers destroy default

# routerhad alone in network namespaces: an election, a failover, a preemption.
demo-namespaces: setup
	$(BIN)/python -m demo.lab_pair

bench-failover: setup
	$(BIN)/python -m benchmarks.failover.run

bench-heal: setup
	$(BIN)/python -m benchmarks.heal.run

demo-simulated: setup
	$(BIN)/python demo/simulated_pair.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
