# Two commands do everything: `make book` (the executed book) and `make test`.
# Each creates and reuses a local virtual environment in .venv by itself.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The book and the tests always run the quick (CPU) profile, with their own data cache.
QUICK := MPFAS_PROFILE=quick MPFAS_CACHE=$(CURDIR)/.mpfas_cache

.PHONY: venv book check-book test lint lab sync clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e ".[book,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mpfas)"
	touch $(STAMP)

book: $(STAMP)
	$(QUICK) $(BIN)/jupyter-book build . --builder html -W --keep-going
	@echo "book: $(CURDIR)/_build/html/index.html"

# Read every chapter page in headless Chromium (Debian: apt-get install chromium): no console
# errors or failed resources, every slider and menu changes its figure, no absolute path of
# this machine in the HTML; one screenshot per page in _build/shots/.
check-book: book
	$(BIN)/python scripts/check_book.py --html _build/html --toc _toc.yml --shots _build/shots

test: $(STAMP)
	$(BIN)/ruff check .
	$(QUICK) $(BIN)/python -m pytest tests --nbmake notebooks --nbmake-timeout=600 -p no:cacheprovider --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

clean:
	rm -rf _build .mpfas_cache .pytest_cache .ruff_cache
