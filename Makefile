# Two entry points (see README): `make book` runs the embedded study end to end, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PROFILE ?= embedded

.PHONY: book test install clean clean-cache

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned to the releases that are on this machine's disk (see README)
	$(PY) -m pip install --quiet --no-compile "torch==2.14.1" "torchvision==0.29.1" || $(PY) -m pip install --quiet --no-compile torch torchvision
	# --no-compile: Python compiles only the modules it imports, on first use, instead of all of them now
	$(PY) -m pip install --quiet --no-compile -e ".[dev,mmseg]"
	touch $@

install: $(VENV)/.installed

book: install
	$(VENV)/bin/segrepro run --profile $(PROFILE)
	$(VENV)/bin/segrepro book --profile $(PROFILE)

test: install
	bash scripts/ensure_chromium.sh
	$(PY) -m pytest -q tests

clean:
	rm -rf results _build

clean-cache: clean
	rm -rf .cache
