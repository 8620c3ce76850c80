# Two commands for a new machine:  make run  (install + start the app)  and  make test  (install + test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `make run` installs the server and training (requirements-train.txt); a deployment that only serves
# installs requirements.txt (no torch) and offers training where torch is installed.
$(VENV)/.installed: requirements.txt requirements-train.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-train.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-train.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/streamlit run Home.py --server.address localhost  # single user: see README "Security model"

# The tests whose code paths depend on the CPU's native bf16 run first with the detection forced each way
# (so both paths stay green on any machine), then the whole suite runs with the real CPU's answer.
test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -m precision --cpu-bf16=native -q
	$(BIN)/python -m pytest -m precision --cpu-bf16=none -q
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/bench_data.py
	$(BIN)/python bench/bench_ask.py
	$(BIN)/python bench/bench_quality.py
	$(BIN)/python bench/bench_safety.py
	$(BIN)/python bench/bench_train.py
	$(BIN)/python bench/bench_compare.py
	$(BIN)/python bench/bench_memory.py
	$(BIN)/python bench/bench_install.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
