# The two commands a new user needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test deps-test chromium lint typecheck clean

$(PY):
	python3 -m venv $(VENV)

demo: $(PY)
	$(PIP) install -q -e '.[demo]'
	$(VENV)/bin/govaudit demo --out govaudit-demo

# Debian's chromium drives the report tests; install it only when missing.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian chromium for the report tests" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

deps-test: $(PY) chromium
	$(PIP) install -q -e '.[test]'

test: deps-test lint
	$(PY) -m pytest

lint: typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The generic folders install as auditor.checks etc.; mypy cannot follow setuptools'
# package_dir mapping, so it checks a tree of symlinks laid out as the installed package.
typecheck:
	@rm -rf build/typecheck && mkdir -p build/typecheck/auditor
	@for f in auditor/*.py auditor/py.typed auditor/access; do ln -s ../../../$$f build/typecheck/auditor/; done
	@for d in checks inventories reports examples; do ln -s ../../../$$d build/typecheck/auditor/$$d; done
	MYPYPATH=build/typecheck $(VENV)/bin/mypy build/typecheck/auditor tests

clean:
	rm -rf build govaudit-demo .mypy_cache .ruff_cache .pytest_cache
