# The two commands: `make demo` (the main job) and `make test` (lint + the test suite).
# Both create/refresh .venv and install relreps with the pinned versions in constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist

export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: demo test test-fast lint format data setup clean bench bench-outofcore docs tutorials

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,words,faiss,text,vision,graphs,dask,zarr]"
	touch $(STAMP)

setup: $(STAMP) data

# Real data from Debian: Fashion-MNIST (31 MB) and the texts of the word-embedding corpus
# (WordNet, two Bibles, fortunes). Without apt or root the experiments say what is missing and
# fall back (digits for images; fewer corpus sources for words).
DEBIAN_DATA := dataset-fashion-mnist wordnet-base sword-text-kjv sword-text-web libsword-utils fortunes
data:
	@if [ -d $(FASHION_MNIST) ] && [ -f /usr/share/wordnet/data.noun ] && command -v mod2imp >/dev/null \
		&& [ -f /usr/share/games/fortunes/fortunes ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -q $(DEBIAN_DATA) >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(DEBIAN_DATA) >/dev/null 2>&1; } || \
		echo "warning: could not install $(DEBIAN_DATA); experiments will fall back"; \
	else echo "note: Debian data packages missing and apt-get is not usable here"; fi

# The documentation site, warnings as errors (what CI builds): site/index.html.
docs: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The tutorials (docs/tutorials/*.py) executed at their own sizes into build/tutorials/*.ipynb.
tutorials: setup
	$(BIN)/python docs/run_tutorials.py build/tutorials

demo: setup
	$(BIN)/relreps reproduce ae-stitching --quick

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/tutorials docs/run_tutorials.py
	$(BIN)/ruff format --check src tests benchmarks docs/tutorials docs/run_tutorials.py

test: setup lint
	$(BIN)/python -m pytest

# The edit loop: everything but the end-to-end experiment runs (marked slow), in about a minute.
test-fast: $(STAMP) lint
	$(BIN)/python -m pytest -m "not slow"

# Side-by-side benchmarks; each rewrites its section of docs/benchmarks.md.
bench: setup
	$(BIN)/python benchmarks/bench_projection.py
	$(BIN)/python benchmarks/bench_neighbours.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_parallel_training.py
	$(BIN)/python benchmarks/bench_vision.py
	$(BIN)/python benchmarks/bench_graph_grid.py
	$(BIN)/python benchmarks/bench_translation.py
	$(BIN)/python benchmarks/bench_sparse.py

# Out of core: a 9.2 GB input against a 1.5 GiB budget, then Dask with 1 and 2 workers. Needs
# ~20 GB free disk under BENCH_DIR (default: the system's temporary folder).
bench-outofcore: setup
	$(BIN)/python benchmarks/bench_outofcore.py $(if $(BENCH_DIR),--dir $(BENCH_DIR))

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks docs/tutorials docs/run_tutorials.py
	$(BIN)/ruff check --fix src tests benchmarks docs/tutorials docs/run_tutorials.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
