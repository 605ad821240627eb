# Two entry points for a fresh Debian machine: `make test` and `make demo`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: test demo sysdeps venv clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[center,test]'
	touch $(STAMP)

venv: $(STAMP)

sysdeps:
	bash scripts/sysdeps.sh

test: sysdeps venv
	$(PY) -m pytest $(PYTEST_ARGS)

# make demo ARGS="--seconds 50 --fast": arguments for python -m halldemo (see its --help)
demo: sysdeps venv
	$(PY) -m halldemo $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache test-output
