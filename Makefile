# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench chaos clean lock

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev,embedded]"
	touch $(STAMP)

## Run web and worker as the Procfile declares them, on embedded defaults.
run: $(STAMP)
	$(BIN)/ghapp serve

## Lint, then the whole suite against a real Redis (embedded unless REDIS_URL is set).
test: $(STAMP)
	$(BIN)/ruff check ghapp tests bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check ghapp tests bench

## Benchmarks: print figures and ratios, exit non-zero when a target is missed.
bench: $(STAMP)
	$(BIN)/python -m bench

## Re-resolve the dependencies in a fresh environment and write requirements.lock.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e ".[dev,embedded]"
	{ sed -n '1,3p' requirements.lock; .lock-venv/bin/python -m pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
