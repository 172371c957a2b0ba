# Aliases for scripts/dev.py, which works without make (see README.md).
PYTHON ?= python3

.PHONY: run test check ci

run:  ## install into .venv, migrate and seed ./var/marque.db, serve on 127.0.0.1:8000
	$(PYTHON) scripts/dev.py run

test:  ## install with the test extra and run the whole suite (ARGS="..." for pytest)
	$(PYTHON) scripts/dev.py test $(ARGS)

check:  ## ruff, mypy --strict, import-linter
	$(PYTHON) scripts/dev.py check

ci:  ## what CI runs (needs root for PostgreSQL and apt)
	bash .ci/run
