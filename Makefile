# Two commands do everything: `make book` (the executed book) and `make test`.
# Each creates and reuses a local virtual environment in .venv by itself.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The book and the tests always run the quick (CPU) profile, with their own data cache.
QUICK := MPFAS_PROFILE=quick MPFAS_CACHE=$(CURDIR)/.mpfas_cache
# The book's own answers must pass their exercise checks (a failing check raises).
STRICT := MPFAS_STRICT_CHECKS=1
# JupyterLab refuses to start as root (Docker images, rented GPU machines) without this.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: venv book check-book pdf test lint lab sync student clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e ".[book,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)"
	touch $(STAMP)

book: $(STAMP)
	$(QUICK) $(STRICT) $(BIN)/jupyter-book build . --builder html -W --keep-going
	@echo "book: $(CURDIR)/_build/html/index.html"

# Read every chapter page in headless Chromium (Debian: apt-get install chromium): no console
# errors or failed resources, no request to another host, equations typeset, every page
# under 1.5 MB (its weight printed), every slider and menu changes its figure, no absolute
# path of this machine in the HTML; one screenshot per page in _build/shots/.
check-book: book
	$(BIN)/python scripts/check_book.py --html _build/html --toc _toc.yml --shots _build/shots

# The whole book as one PDF (title page, contents, every chapter as printed by headless
# Chromium), written into the HTML root for download: _build/html/mpfas.pdf.
pdf: book
	$(BIN)/python scripts/make_pdf.py --html _build/html --toc _toc.yml --out _build/html/mpfas.pdf

test: $(STAMP)
	$(BIN)/ruff check .
	$(QUICK) $(STRICT) $(BIN)/python -m pytest tests --nbmake notebooks --nbmake-timeout=600 -p no:cacheprovider --durations=15
	# The student edition runs top to bottom too; its checks report "not yet" without failing.
	$(QUICK) $(BIN)/python -m pytest --nbmake student --nbmake-timeout=600 -p no:cacheprovider -q

lint: $(STAMP)
	$(BIN)/ruff check .

sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG)

# The student edition (no solutions) into student/ and a zip of it into _build/.
student: $(STAMP)
	$(BIN)/python -m mpfas_lib student --out student --zip _build/mpfas-student-edition.zip

clean:
	rm -rf _build .mpfas_cache .pytest_cache .ruff_cache
