# Two entry points on a fresh machine: `make demo` (the main job) and `make test` (the test suite).
# Each creates .venv and installs what it needs (the CPU torch wheel is pinned in requirements.txt).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo_output

.PHONY: install test lint demo sample clean

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-bench.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	# weaver-core (its model modules need only torch): the reference the weight-interchange tests compare to
	$(PY) -m pip install -q --no-deps -r requirements-bench.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q -p no:cacheprovider

# ruff with the project's settings (pyproject.toml); CI runs it beside the tests
lint: install
	$(VENV)/bin/ruff check .

demo: install
	PYTHON=$(abspath $(PY)) bash bin/demo.sh $(DEMO_DIR)

# Regenerate the committed quickstart sample (fixed seeds; see README).
sample: install
	$(PY) bin/generate.py --process qg -n 3000 -o data/qg --seed 1 --shard-size 1500 --workers 2 --overwrite
	$(PY) bin/generate.py --process flavour -n 4000 -o data/flavour --seed 2 --shard-size 2000 --workers 2 --overwrite
	$(PY) bin/generate.py --process jec -n 6000 -o data/jec --seed 3 --shard-size 3000 --workers 2 --overwrite
	$(PY) bin/generate.py --process top -n 2000 -o data/top --seed 4 --shard-size 1000 --workers 2 --overwrite
	$(PY) bin/generate.py --process shower -n 2000 -o data/shower --seed 5 --shard-size 1000 --workers 2 --overwrite

clean:
	rm -rf $(VENV) $(DEMO_DIR)
