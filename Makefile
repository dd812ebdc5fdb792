# The two commands a new user needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test deps-test chromium lint typecheck catalogs clean

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

# The report's translations (reports/locale/*/LC_MESSAGES/messages.po): re-extract the
# templates' and reports/*.py's messages and every check's title, fails_when and remediation,
# then merge them into each catalog.  New entries arrive empty and changed ones fuzzy; translate
# them, and tests/reports/test_i18n.py passes again.  The .pot is a by-product, not kept.
catalogs: $(PY)
	@mkdir -p build
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ --add-location=file --no-wrap \
	  --project=govaudit --copyright-holder="govaudit authors" -o build/messages.pot .
	$(VENV)/bin/pybabel update -i build/messages.pot -d reports/locale -D messages \
	  --no-wrap --ignore-obsolete --previous

clean:
	rm -rf build govaudit-demo .mypy_cache .ruff_cache .pytest_cache
