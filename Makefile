# closp-lite: every target does its own set-up, so each works on a fresh clone.
#   make tour   set up, then run the main job on the bundled data (outputs in ./outputs)
#   make test   set up, then ruff, mypy and the whole test suite (what CI runs)
#   make book   set up, then build the HTML book offline (book/_build/html)

PYTHON ?= python3.12
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.closp-lite-installed
OUT    ?= outputs

.PHONY: setup test tour book mathjax lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.12 (pyenv reads .python-version)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

test: setup
	$(BIN)/ruff check closp_lite tests benchmarks
	$(BIN)/mypy closp_lite
	CLOSP_LITE_MODE=tiny $(BIN)/python -m pytest -q

tour: setup
	$(BIN)/closp-lite tour --out $(OUT)

book: setup mathjax
	$(BIN)/jupyter-book build book

# MathJax 3 from npm into book/_build/mathjax/ (git-ignored), so formulas render when the built book
# is read offline (book/_ext/offline_mathjax.py). Without npm or a network the pages load MathJax
# from its CDN instead, as the published book does.
MATHJAX := book/_build/mathjax
mathjax:
	@test -f $(MATHJAX)/tex-mml-chtml.js || ( \
	  rm -rf $(MATHJAX).tmp && mkdir -p $(MATHJAX).tmp && cd $(MATHJAX).tmp && \
	  npm pack --silent mathjax@3.2.2 >/dev/null 2>&1 && tar xzf mathjax-3.2.2.tgz package/es5 && \
	  mv package/es5 ../mathjax ) || echo "note: MathJax not fetched from npm; the HTML book will load it from its CDN"
	@rm -rf $(MATHJAX).tmp

# Refresh requirements.lock from the ranges in pyproject.toml (run by a maintainer, then commit).
lock: setup
	$(BIN)/python -m pip freeze --exclude-editable --exclude closp-lite > requirements.lock

clean:
	rm -rf $(VENV) $(OUT) book/_build .pytest_cache
