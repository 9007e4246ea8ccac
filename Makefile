# Two commands matter: `make run` (the app on the bundled sample) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test deps dev-deps browser lint bench clean

$(VENV)/.deps: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements-dev.txt $(VENV)/.deps
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

deps: $(VENV)/.deps
dev-deps: $(VENV)/.dev-deps

## Start the app on the bundled sample portfolio and default model.
run: deps
	@if grep -qs '^\[auth\]' .streamlit/secrets.toml; then echo "Sign-in on ([auth] in .streamlit/secrets.toml); roles from $${HSS_ACCESS:-data/access.yaml}."; \
	else echo "No sign-in: [auth] is not set in .streamlit/secrets.toml, so the app runs for one person (README: Sign-in and roles)."; fi
	$(PY) -m streamlit run app.py

## Install test tools and Debian's Chromium (browser tests), then run every test.
test: dev-deps browser
	$(PY) -m pytest -n 2 --dist loadgroup

## Debian's chromium + chromium-driver: browsers cannot be downloaded any other way here.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; \
	fi

lint: dev-deps
	$(PY) -m ruff check .

bench: deps
	$(PY) -m bench.bench_scoring

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
