# Rally: `make run` starts the app on the embedded SQLite database; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test bench demo lint init clean cluster

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

init: $(VENV)/.runtime
	$(PY) -m campaigns init

run: init
	@echo "Rally is starting at http://localhost:$(PORT)  (Ctrl+C to stop)"
	STREAMLIT_SERVER_PORT=$(PORT) $(VENV)/bin/streamlit run rally_app.py --server.port $(PORT)

# Several app processes behind HAProxy on one PostgreSQL (DATABASE_URL; default: the local `rally` database).
WORKERS ?= 2
CLUSTER_PORT ?= 8500
cluster: $(VENV)/.runtime
	$(PY) -m campaigns cluster --workers $(WORKERS) --port $(CLUSTER_PORT)

demo: init
	STREAMLIT_SERVER_PORT=$(PORT) $(PY) -m campaigns demo

test: $(VENV)/.dev
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(PY) -m bench $(BENCH_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache
