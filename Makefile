# Two commands for a newcomer: `make demo` and `make test`. Python 3.11 is all you need.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
ANALYZER_PORT ?= 5055
ANALYZER_URL := http://127.0.0.1:$(ANALYZER_PORT)/api
DEMO_TOKEN := demo-analyzer-token
# Which Analyzer the demo's fake acts out: upstream, token, legacy, no-bulk or custom
# (README, "The Analyzer we talk to"); the token is only checked by token, legacy, custom.
ANALYZER_PROFILE ?= token

.PHONY: install demo test lint typecheck format bench drill clean

# The site is production-safe by default (debug off, DJANGO_SECRET_KEY required); these
# development targets ask for local mode explicitly: debug on and a development secret key.
demo test drill: export DJANGO_ENV = local

$(VENV)/.installed: requirements/base.txt requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements/dev.txt
	touch $@

install: $(VENV)/.installed

demo: install
	mkdir -p var
	$(PY) manage.py migrate --verbosity 0
	$(PY) manage.py seed_demo
	@echo ""
	@echo "Fake Academic Analyzer ($(ANALYZER_PROFILE) profile) on $(ANALYZER_URL) (control API on port $$(( $(ANALYZER_PORT) + 1 )))"
	@echo "Site on http://127.0.0.1:$(PORT)/  ·  admin: http://127.0.0.1:$(PORT)/admin/"
	@echo "Log in as a student (21Z201 … 21Z204), a teacher (anand, priya) or admin; password above."
	@echo "Resync: every 30 s in this terminal; to run it yourself (another terminal):"
	@echo "  DJANGO_ENV=local ACADEMIC_ANALYZER_URL=$(ANALYZER_URL) ACADEMIC_ANALYZER_TOKEN=$(DEMO_TOKEN) $(PY) manage.py resync_tutorial_marks -v 2"
	@echo "The fake Analyzer keeps no marks across restarts: marks the site had delivered are made due again and re-sent."
	@echo "Make the Analyzer fail: see README, 'Making the demo's Analyzer fail'."
	@echo "Ctrl-C stops the site, the fake Analyzer and the resync."
	@$(PY) -m quizsite.demo --port $(PORT) --analyzer-port $(ANALYZER_PORT) \
	  --profile $(ANALYZER_PROFILE) --token $(DEMO_TOKEN) --every 30

test: install
	mkdir -p var  # the SQLite default lives there; makemigrations --check reads its history
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run --verbosity 0
	$(VENV)/bin/pytest

# Production-like benchmarks (PostgreSQL, gunicorn, fake Analyzer at 5 ms; the drain also against
# upstream's real code, skipped with the reason without node or ../shared/upstream); ~10 minutes.
bench: install
	$(PY) -m bench.run

# The long randomized fault drill (thousands of submissions); prints the counts.
drill: install
	$(PY) -m bench.drill

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Types only, as `make test` checks them (pyproject.toml, [tool.mypy]; cache in var/mypy_cache).
typecheck: install
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
