# routerha: `make demo` runs the built-in lab, `make test` runs every test.
# Both set up what they need on a fresh Debian 12 machine (as root): the Debian
# packages (scripts/install-system-packages) and a virtual environment in .venv.

PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test lint sanity galaxy matrix unit demo demo-clean demo-namespaces demo-simulated bench-failover bench-heal bench-rollout clean

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

test: lint sanity galaxy matrix
	$(BIN)/python -m pytest

# galaxy-importer (what Galaxy runs on an upload) on the built collection.
galaxy: setup
	scripts/galaxy-import

# The ansible-core support matrix (docs/testing.md): the tests marked `matrix`
# (planning, check mode, the modules; ansible-playbook on localhost) under each
# other supported ansible-core, each in its cached environment (scripts/ansible-venv);
# the main run above covers the pinned one. A version whose Python is missing here
# (exit 3: 2.20+ need 3.12) is skipped, saying so.
MATRIX ?= 2.17 2.18 2.20 2.21
matrix: setup
	@for v in $(MATRIX); do \
	    venv=$$(scripts/ansible-venv $$v); rc=$$?; \
	    if [ $$rc = 3 ]; then echo "ansible-core $$v: SKIPPED (no Python for it here)"; continue; fi; \
	    [ $$rc = 0 ] || exit $$rc; \
	    echo "ansible-core $$v ($$venv):"; \
	    ROUTERHA_ANSIBLE_VENV=$$venv $(BIN)/python -m pytest -q -p no:cacheprovider -m matrix tests/collection || exit 1; \
	done

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

bench-rollout: setup
	$(BIN)/python -m benchmarks.rollout.run

demo-simulated: setup
	$(BIN)/python demo/simulated_pair.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
